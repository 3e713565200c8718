"""GB/T 28181 device ids: 20 digits = centre 8 + industry 2 + type 3 + network 1 + serial 6."""
from __future__ import annotations

from dataclasses import dataclass

from gridsvc.apidoc import STRING, obj
from gridsvc.errors import ValidationError
from gridsvc.i18n import N_

CAMERA_TYPES = {"131": "camera", "132": "ip_camera"}
DEVICE_TYPES = {
    "111": "dvr", "112": "video_server", "113": "encoder", "114": "decoder", "115": "video_switch",
    "116": "audio_switch", "117": "alarm_controller", "118": "nvr", "130": "hvr",
    "131": "camera", "132": "ip_camera", "133": "display", "134": "alarm_input", "135": "alarm_output",
    "136": "voice_input", "137": "voice_output", "138": "mobile_transmitter", "139": "other_peripheral",
    "200": "sip_server", "201": "web_server", "202": "media_server", "203": "proxy_server",
    "204": "security_server", "205": "alarm_server", "206": "database_server", "207": "gis_server",
    "208": "management_server", "209": "gateway", "210": "media_storage_server", "211": "signalling_gateway",
    "215": "business_group", "216": "virtual_organisation",
}
# GB/T 28181-2016 Annex D industry codes: 00-39 government, 40-79 enterprises and institutions,
# 80-89 residents' own installations, 90-99 other owners; unlisted codes are reserved.
INDUSTRIES = {
    "00": "public_security_roads", "01": "public_security_community", "02": "public_security_internal",
    "03": "public_security_other", "04": "traffic_roads", "05": "traffic_checkpoints", "06": "traffic_internal",
    "07": "traffic_other", "08": "city_management", "09": "health_environment", "10": "commerce_customs",
    "11": "education", "40": "agriculture", "41": "mining", "42": "manufacturing", "43": "metallurgy",
    "44": "electric_power", "45": "gas", "46": "construction", "47": "logistics", "48": "postal",
    "49": "information", "50": "hospitality", "51": "finance", "52": "real_estate", "53": "business_services",
    "54": "water", "55": "entertainment",
}
# 2016 edition: 0-4 monitoring private network, 5 public-security, 6 e-government, 7 Internet, 8 social resources.
NETWORKS = {
    "0": "monitoring_private", "1": "monitoring_private", "2": "monitoring_private",
    "3": "monitoring_private", "4": "monitoring_private", "5": "public_security",
    "6": "e_government", "7": "internet", "8": "social_resources",
}


def _names(table: dict) -> list[str]:
    return sorted({*table.values(), "reserved"})


def _digits(count: int, description: str) -> dict:
    return {"type": "string", "pattern": rf"^[0-9]{{{count}}}$", "description": description}


ID_PARTS = obj({
    "centre": _digits(8, "centre code: the GB/T 2260 region (6 digits) and 2 more"),
    "region": _digits(6, "GB/T 2260 administrative code"),
    "industry": _digits(2, "industry code (Annex D)"),
    "industry_name": {"type": "string", "enum": _names(INDUSTRIES)},
    "type": _digits(3, "device type code"),
    "type_name": {"type": "string", "enum": _names(DEVICE_TYPES)},
    "network": _digits(1, "network digit"),
    "network_name": {"type": "string", "enum": _names(NETWORKS)},
    "serial": {**STRING, "pattern": "^[0-9]{6}$"},
}, required=["centre", "region", "industry", "industry_name", "type", "type_name", "network", "network_name", "serial"],
    description="the GB/T 28181 device id's parts (DeviceId.parts)")


@dataclass(frozen=True)
class DeviceId:
    """A parsed GB/T 28181 device id."""

    value: str
    centre: str
    industry: str
    type: str
    network: str
    serial: str

    @property
    def region(self) -> str:
        """The GB/T 2260 administrative code (first six digits of the centre code)."""
        return self.centre[:6]

    def parts(self) -> dict:
        """The id's parts with their meanings, for display and the API."""
        return {
            "centre": self.centre,
            "region": self.region,
            "industry": self.industry,
            "industry_name": INDUSTRIES.get(self.industry, "reserved"),
            "type": self.type,
            "type_name": DEVICE_TYPES.get(self.type, "reserved"),
            "network": self.network,
            "network_name": NETWORKS.get(self.network, "reserved"),
            "serial": self.serial,
        }


def parse_device_id(value, *, cameras_only: bool = False, region_prefix: str | None = None) -> DeviceId:
    """Validate and split a device id; ValidationError with a clear reason otherwise."""
    if not isinstance(value, str):
        raise ValidationError("device_id_type", "The device id must be text of 20 digits")
    text = value.strip()
    if len(text) != 20 or not (text.isascii() and text.isdigit()):
        raise ValidationError(
            "device_id_format",
            "The GB/T 28181 device id must be exactly 20 digits; got %(value)r",
            value=value[:40],
        )
    device = DeviceId(text, text[0:8], text[8:10], text[10:13], text[13:14], text[14:20])
    if device.network not in NETWORKS:
        raise ValidationError(
            "device_id_network", "Network digit %(network)s of the device id is not defined (0-8)", network=device.network
        )
    if device.type not in DEVICE_TYPES:
        raise ValidationError("device_id_type_code", "Device type code %(type)s is not a GB/T 28181 type", type=device.type)
    if cameras_only and device.type not in CAMERA_TYPES:
        raise ValidationError(
            "device_id_not_camera", "Device type code %(type)s is not a camera (131 or 132)", type=device.type
        )
    if region_prefix and not device.centre.startswith(region_prefix):
        raise ValidationError(
            "device_id_region",
            "The device id's centre code %(centre)s is not in the configured region %(region)s",
            centre=device.centre,
            region=region_prefix,
        )
    return device




# English display labels of the names above; the pages show them translated.
LABELS = {
    "dvr": N_("DVR"), "video_server": N_("Video server"), "encoder": N_("Encoder"), "decoder": N_("Decoder"),
    "video_switch": N_("Video switching matrix"), "audio_switch": N_("Audio switching matrix"),
    "alarm_controller": N_("Alarm controller"), "nvr": N_("Network video recorder (NVR)"),
    "hvr": N_("Hybrid video recorder (HVR)"), "camera": N_("Camera device"), "ip_camera": N_("IP camera (IPC)"),
    "display": N_("Display device"), "alarm_input": N_("Alarm input device"), "alarm_output": N_("Alarm output device"),
    "voice_input": N_("Voice input device"), "voice_output": N_("Voice output device"),
    "mobile_transmitter": N_("Mobile transmission device"), "other_peripheral": N_("Other peripheral"),
    "sip_server": N_("SIP signalling server"), "web_server": N_("Web application server"),
    "media_server": N_("Media distribution server"), "proxy_server": N_("Proxy server"),
    "security_server": N_("Security server"), "alarm_server": N_("Alarm server"),
    "database_server": N_("Database server"), "gis_server": N_("GIS server"),
    "management_server": N_("Management server"), "gateway": N_("Access gateway"),
    "media_storage_server": N_("Media storage server"), "signalling_gateway": N_("Signalling security gateway"),
    "business_group": N_("Business group"), "virtual_organisation": N_("Virtual organisation"),
    "public_security_roads": N_("Public security: roads"), "public_security_community": N_("Public security: community"),
    "public_security_internal": N_("Public security: internal"), "public_security_other": N_("Public security: other"),
    "traffic_roads": N_("Traffic: roads"), "traffic_checkpoints": N_("Traffic: checkpoints"),
    "traffic_internal": N_("Traffic: internal"), "traffic_other": N_("Traffic: other"),
    "city_management": N_("City management access"), "health_environment": N_("Health and environment access"),
    "commerce_customs": N_("Commodity inspection and customs access"), "education": N_("Education department access"),
    "agriculture": N_("Agriculture, forestry, animal husbandry and fishery access"), "mining": N_("Mining enterprise access"),
    "manufacturing": N_("Manufacturing enterprise access"), "metallurgy": N_("Metallurgy enterprise access"), "electric_power": N_("Electric power enterprise access"),
    "gas": N_("Gas enterprise access"), "construction": N_("Construction enterprise access"), "logistics": N_("Logistics enterprise access"), "postal": N_("Postal enterprise access"),
    "information": N_("Information enterprise access"), "hospitality": N_("Accommodation and catering access"), "finance": N_("Finance enterprise access"),
    "real_estate": N_("Real estate access"), "business_services": N_("Business services access"), "water": N_("Water enterprise access"),
    "entertainment": N_("Entertainment enterprise access"),
    "monitoring_private": N_("Monitoring and alarm private network"), "public_security": N_("Public security network"),
    "e_government": N_("E-government network"), "internet": N_("Internet network"),
    "social_resources": N_("Social resources access network"), "reserved": N_("Reserved code"),
}


def label_of(name: str) -> str:
    """The English display label of a part name (the name itself when it has none)."""
    return LABELS.get(name, name)
