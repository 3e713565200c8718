"""GB/T 28181 device ids: 20 digits = centre 8 + industry 2 + type 3 + network 1 + serial 6."""
from __future__ import annotations

from dataclasses import dataclass

from gridsvc.errors import ValidationError

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
INDUSTRIES = {
    "00": "public_security_roads", "01": "community", "02": "internal", "03": "other_social",
    "04": "traffic_roads", "05": "traffic_intersections", "06": "electronic_police", "07": "speed_cameras",
    "08": "city_management", "09": "health", "10": "business", "11": "finance",
}
# 2016 edition: 0-4 monitoring private network, 5 public-security, 6 e-government, 7 Internet, 8 social resources.
NETWORKS = {
    "0": "monitoring_private", "1": "monitoring_private", "2": "monitoring_private",
    "3": "monitoring_private", "4": "monitoring_private", "5": "public_security",
    "6": "e_government", "7": "internet", "8": "social_resources",
}


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
