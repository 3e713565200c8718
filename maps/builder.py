"""Build gridsvc's overview map: grids shaded by completion, clustered cameras, tracks, effort.

Pure: GeoJSON dicts (as gridsvc's API returns them) in, folium.Map out. Render it with
maps.assets.render_map_html() so that no asset is fetched from the Internet.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

import folium

from maps import gcj02
from maps.assets import localize_assets
from maps.basemaps import BaseMap, resolve_base_map, tile_layers
from maps.elements import GridsvcCameraLayer, GridsvcControls, GridsvcDataLayer, GridsvcSetup, html_text
from maps.geojson import (
    Bounds,
    InvalidGeometry,
    PositionTransform,
    display_geometry,
    display_point,
    features_of,
    identity,
)
from maps.labels import resolve_labels

log = logging.getLogger(__name__)

# Where an empty map opens (roughly the middle of China); real maps fit their data.
_EMPTY_MAP_CENTRE = (35.0, 105.0)
_EMPTY_MAP_ZOOM = 4
_MIN_ZOOM = 3

# Completion percent classes, lower bound inclusive: exactly 100 % is "target met".
COMPLETION_BREAKS: tuple[Decimal, ...] = (Decimal(60), Decimal(80), Decimal(100), Decimal(150))
COMPLETION_FILLS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
NO_DATA_FILL = "#bdbdbd"

EFFORT_CLASS_COUNT = 5
EFFORT_FILLS = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")

CAMERA_KINDS = ("security", "grid")  # index 2 = anything else
CAMERA_KIND_COLORS = ("#1f5fbf", "#2e9d3a", "#7f7f7f")
CAMERA_STATUSES = ("online", "offline", "fault")  # index 3 = anything else
CAMERA_RADIUS = 6
_MICRODEGREES = 10**6
_CAMERA_KIND_INDEX = {kind: index for index, kind in enumerate(CAMERA_KINDS)}
_CAMERA_STATUS_INDEX = {status: index for index, status in enumerate(CAMERA_STATUSES)}

# Camera flag bits, read the same way by gridsvc-map.js.
_FLAG_KIND_MASK = 3
_FLAG_STATUS_SHIFT = 2
_FLAG_UNLINKED = 16
_FLAG_NEEDS_ATTENTION = 32

TRACK_KINDS = ("group", "individual")  # index 2 = anything else
TRACK_STYLES = (
    {"color": "#6a3d9a", "weight": 3, "opacity": 0.85},
    {"color": "#ff7f00", "weight": 3, "opacity": 0.85, "dashArray": "6 4"},
    {"color": "#555555", "weight": 2, "opacity": 0.85},
)

GRID_STYLES = {
    "centre": {"color": "#111111", "weight": 3, "fill": False},
    "station": {"color": "#555555", "weight": 1, "fillOpacity": 0.55, "fillColor": NO_DATA_FILL},
    "cell": {"color": "#777777", "weight": 0.6, "dashArray": "2 3", "fill": False},
}
GRID_LEVELS = ("centre", "station", "cell")

# GB/T 28181 device id widths: centre 8, industry 2, type 3, network 1, serial 6.
_DEVICE_ID_WIDTHS = (8, 2, 3, 1, 6)
_ID_PART_KEYS = ("centre", "industry", "type", "network", "serial")


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def completion_class(percent: Any) -> int | None:
    """Index into COMPLETION_FILLS for a percent like "182.09"; None when absent or not a number."""
    number = _decimal_or_none(percent)
    if number is None:
        return None
    return sum(1 for lower_bound in COMPLETION_BREAKS if number >= lower_bound)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _id_parts_differ(given_parts: Any, device_id: str) -> list[str | None] | None:
    """The API's id_parts as a list if they are not simply the GB/T 28181 slices of device_id."""
    if not isinstance(given_parts, Mapping):
        return None
    parts = [_text_or_none(given_parts.get(key)) for key in _ID_PART_KEYS]
    if len(device_id) == sum(_DEVICE_ID_WIDTHS) and "".join(part or "" for part in parts) == device_id and all(
        part is not None and len(part) == width for part, width in zip(parts, _DEVICE_ID_WIDTHS)
    ):
        return None
    return parts


class _Skipped(Counter):
    def note(self, what: str, index: int, reason: Exception | str) -> None:
        self[what] += 1
        log.warning("map: skipping %s feature #%d: %s", what, index, reason)

    def feature_objects(self, features: list, what: str):
        """(index, feature) for each feature that is an object; anything else is noted and skipped."""
        for index, feature in enumerate(features):
            if type(feature) is dict or isinstance(feature, Mapping):
                yield index, feature
            else:
                self.note(what, index, "not a feature object")


def _outline(geometry: dict[str, Any]) -> dict[str, Any]:
    """The rings of a (Multi)Polygon as a MultiLineString."""
    # On a canvas, Leaflet hit-tests a polygon's interior even with fill: false, so an unfilled
    # centre drawn above the stations would take every station's hover; lines are hit only
    # near the stroke.
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return {"type": "MultiLineString", "coordinates": [ring for polygon in polygons for ring in polygon]}


def _grid_layers(features, transform, labels, bounds, skipped):
    by_level: dict[str, list[dict[str, Any]]] = {level: [] for level in GRID_LEVELS}
    for index, feature in skipped.feature_objects(features, "grids"):
        properties = feature.get("properties") or {}
        level = properties.get("level")
        if level not in by_level:
            skipped.note("grids", index, f"unknown level {level!r}")
            continue
        try:
            geometry = display_geometry(feature.get("geometry"), ("Polygon", "MultiPolygon"), transform)
        except InvalidGeometry as error:
            skipped.note("grids", index, error)
            continue
        bounds.add_geometry(geometry)
        if not GRID_STYLES[level].get("fill", True):
            geometry = _outline(geometry)
        display_properties: dict[str, Any] = {
            "name": _text_or_none(properties.get("name")),
            "code": _text_or_none(properties.get("code")),
            "levelLabel": labels[f"level_{level}"],
            "styleClass": completion_class(properties.get("percent")),
        }
        # Stats are optional; a key left out is not shown, a null percent shows as "no data".
        for source_key, display_key in (("volunteers", "volunteers"), ("hours", "hours"), ("camera_count", "cameraCount")):
            if properties.get(source_key) is not None:
                display_properties[display_key] = _text_or_none(properties[source_key])
        if "percent" in properties:
            display_properties["percent"] = _text_or_none(properties["percent"])
        by_level[level].append({"type": "Feature", "geometry": geometry, "properties": display_properties})
    return by_level


def _camera_columns(features, transform, bounds, skipped, station_names):
    # Columnar (one array per field) keeps 100,000 cameras at a few MB of page; hot loop, so
    # lookups are hoisted into locals.
    lons: list[float] = []
    lats: list[float] = []
    flags: list[int] = []
    device_ids: list[str] = []
    names: list[str] = []
    stations: list[int] = []
    station_codes: list[str] = []
    station_index: dict[str, int] = {}
    id_parts: dict[str, list[str | None]] = {}
    kind_index_of, unknown_kind = _CAMERA_KIND_INDEX.get, len(CAMERA_KINDS)
    status_index_of, unknown_status = _CAMERA_STATUS_INDEX.get, len(CAMERA_STATUSES)
    for index, feature in skipped.feature_objects(features, "cameras"):
        try:
            lon, lat = display_point(feature.get("geometry"), transform)
        except InvalidGeometry as error:
            skipped.note("cameras", index, error)
            continue
        properties = feature.get("properties") or {}
        kind_index = kind_index_of(properties.get("kind"), unknown_kind)
        status_index = status_index_of(properties.get("status"), unknown_status)
        camera_flags = kind_index | (status_index << _FLAG_STATUS_SHIFT)
        # Only an explicit True counts as linked: unknown is shown as needing attention.
        if properties.get("police_linked") is not True:
            camera_flags |= _FLAG_UNLINKED | _FLAG_NEEDS_ATTENTION
        elif status_index != 0:
            camera_flags |= _FLAG_NEEDS_ATTENTION
        device_id = properties.get("device_id")
        device_id = "" if device_id is None else str(device_id)
        station_code = properties.get("station_code")
        if station_code is None:
            stations.append(-1)
        else:
            station_code = str(station_code)
            position = station_index.get(station_code)
            if position is None:
                position = station_index[station_code] = len(station_codes)
                station_codes.append(station_code)
            stations.append(position)
        # The JS slices a standard 20-digit id itself; ship parts only when they say otherwise.
        given_parts = properties.get("id_parts")
        if given_parts is not None:
            differing = _id_parts_differ(given_parts, device_id)
            if differing is not None:
                id_parts[str(len(flags))] = differing
        name = properties.get("name")
        lons.append(lon)
        lats.append(lat)
        flags.append(camera_flags)
        device_ids.append(device_id)
        names.append("" if name is None else str(name))
    if lons:
        bounds.add_position(min(lons), min(lats))
        bounds.add_position(max(lons), max(lats))
    # Positions as integer micro-degrees from the south-west corner ("1234" instead of
    # "117.301234"), and device ids without the prefix they all share (usually the 8-digit centre).
    origin = [round(min(lons, default=0.0) * _MICRODEGREES), round(min(lats, default=0.0) * _MICRODEGREES)]
    coords: list[int] = [0] * (2 * len(lons))
    coords[0::2] = [round(lon * _MICRODEGREES) - origin[0] for lon in lons]
    coords[1::2] = [round(lat * _MICRODEGREES) - origin[1] for lat in lats]
    id_prefix = os.path.commonprefix(device_ids) if device_ids else ""
    return {
        "coordOrigin": origin,
        "coords": coords,
        "flags": flags,
        "deviceIdPrefix": id_prefix,
        "deviceIds": [device_id[len(id_prefix):] for device_id in device_ids] if id_prefix else device_ids,
        "names": names,
        "stations": stations,
        "stationCodes": station_codes,
        # Names from the grids layer, so a popup says which station, not only its code.
        "stationNames": [station_names.get(code) for code in station_codes],
        "idParts": id_parts,
    }


def _track_features(features, transform, labels, bounds, skipped):
    kind_labels = [labels["track_group"], labels["track_individual"], labels["track_unknown"]]
    result = []
    for index, feature in skipped.feature_objects(features, "tracks"):
        try:
            geometry = display_geometry(feature.get("geometry"), ("LineString", "MultiLineString"), transform)
        except InvalidGeometry as error:
            skipped.note("tracks", index, error)
            continue
        bounds.add_geometry(geometry)
        properties = feature.get("properties") or {}
        kind = properties.get("kind")
        kind_index = TRACK_KINDS.index(kind) if kind in TRACK_KINDS else len(TRACK_KINDS)
        result.append({
            "type": "Feature",
            "geometry": geometry,
            "properties": {
                "kindIndex": kind_index,
                "kindLabel": kind_labels[kind_index],
                "patroller": _text_or_none(properties.get("patroller")),
                "start": _text_or_none(properties.get("start")),
                "end": _text_or_none(properties.get("end")),
                "hours": _text_or_none(properties.get("hours")),
            },
        })
    return result


def effort_breaks(hours: list[Decimal]) -> list[Decimal]:
    """Upper bounds of EFFORT_CLASS_COUNT equal-width classes from 0 to the largest value."""
    top = max(hours, default=Decimal(0))
    if top <= 0:
        return [Decimal(0)] * EFFORT_CLASS_COUNT
    return [top * step / EFFORT_CLASS_COUNT for step in range(1, EFFORT_CLASS_COUNT + 1)]


def _effort_class(value: Decimal, breaks: list[Decimal]) -> int:
    for class_index, upper in enumerate(breaks):
        if value <= upper:
            return class_index
    return len(breaks) - 1


def _effort_features(features, transform, bounds, skipped):
    cells = []
    for index, feature in skipped.feature_objects(features, "effort"):
        properties = feature.get("properties") or {}
        hours = _decimal_or_none(properties.get("hours"))
        if hours is None or hours < 0:
            skipped.note("effort", index, f"hours {properties.get('hours')!r} is not a non-negative number")
            continue
        try:
            geometry = display_geometry(feature.get("geometry"), ("Polygon", "MultiPolygon"), transform)
        except InvalidGeometry as error:
            skipped.note("effort", index, error)
            continue
        bounds.add_geometry(geometry)
        cells.append((geometry, hours, _text_or_none(properties.get("hours"))))
    breaks = effort_breaks([hours for _, hours, _ in cells])
    data = [
        {
            "type": "Feature",
            "geometry": geometry,
            "properties": {"hours": shown_hours, "styleClass": _effort_class(hours, breaks)},
        }
        for geometry, hours, shown_hours in cells
    ]
    return data, breaks


def _format_hours(value: Decimal) -> str:
    return f"{value:.1f}"


def _legend(labels, *, has_cells, camera_kinds_seen, has_tracks, effort_breaks_used):
    bound_texts = [f"{bound}%" for bound in COMPLETION_BREAKS]
    completion_labels = (
        [f"< {bound_texts[0]}"]
        + [f"{low} – {high}" for low, high in zip(bound_texts, bound_texts[1:])]
        + [f"≥ {bound_texts[-1]}"]
    )
    completion_items = [
        {"label": label, "shape": "rect", "style": {"fill": fill, "fillOpacity": 0.8, "stroke": "#555"}}
        for label, fill in zip(completion_labels, COMPLETION_FILLS)
    ]
    completion_items.append({"label": labels["no_data"], "shape": "rect", "style": {"fill": NO_DATA_FILL, "stroke": "#555"}})

    outline_items = [{"label": labels["layer_centre"], "shape": "rect", "style": {"stroke": "#111", "strokeWidth": 3}}]
    if has_cells:
        outline_items.append({"label": labels["layer_cells"], "shape": "rect", "style": {"stroke": "#777", "dashArray": "2 3"}})

    kind_labels = [labels["kind_security"], labels["kind_grid"], labels["kind_unknown"]]
    camera_items = [
        {"label": kind_labels[index], "shape": "circle", "style": {"fill": CAMERA_KIND_COLORS[index], "fillOpacity": 0.9, "stroke": "#fff"}}
        for index in range(len(kind_labels))
        if index < len(CAMERA_KINDS) or index in camera_kinds_seen
    ]
    sample = CAMERA_KIND_COLORS[0]
    camera_items += [
        {"label": labels["status_offline"], "shape": "circle", "style": {"fill": sample, "fillOpacity": 0.15, "stroke": sample, "strokeWidth": 2}},
        {"label": labels["status_fault"], "shape": "circle", "style": {"fill": sample, "fillOpacity": 0.15, "stroke": "#d50000", "strokeWidth": 3}},
        {"label": labels["not_police_linked"], "shape": "circle", "style": {"fill": sample, "fillOpacity": 0.9, "stroke": "#000", "strokeWidth": 2.5, "dashArray": "3 2"}},
        {"label": labels["camera_cluster"], "shape": "circle", "style": {"fill": "#6ecc39", "fillOpacity": 0.8, "stroke": "#c62828", "strokeWidth": 2}},
    ]
    sections = [
        {"title": labels["completion"], "items": completion_items},
        {"title": labels["layer_centre"], "items": outline_items},
        {"title": labels["layer_cameras"], "items": camera_items},
    ]
    if has_tracks:
        track_labels = [labels["track_group"], labels["track_individual"]]
        sections.append({
            "title": labels["layer_tracks"],
            "items": [
                {"label": track_labels[index], "shape": "line", "style": {"stroke": TRACK_STYLES[index]["color"], "strokeWidth": 3, "dashArray": TRACK_STYLES[index].get("dashArray")}}
                for index in range(len(track_labels))
            ],
        })
    if effort_breaks_used is not None:
        items, lower_text = [], "0"
        for class_index, upper in enumerate(effort_breaks_used):
            upper_text = _format_hours(upper)
            items.append({"label": f"{lower_text} – {upper_text}", "shape": "rect", "style": {"fill": EFFORT_FILLS[class_index], "fillOpacity": 0.7, "stroke": "#999"}})
            lower_text = upper_text
        sections.append({"title": labels["layer_effort"] + " (" + labels["effort_hours"] + ")", "items": items})
    return {"title": labels["legend"], "sections": sections}


def _camera_layer_options(labels):
    kinds = [
        {"label": labels["kind_security"], "color": CAMERA_KIND_COLORS[0]},
        {"label": labels["kind_grid"], "color": CAMERA_KIND_COLORS[1]},
        {"label": labels["kind_unknown"], "color": CAMERA_KIND_COLORS[2]},
    ]
    statuses = [
        {"label": labels["status_online"], "fillOpacity": 0.9, "strokeColor": "#ffffff", "strokeWeight": 1.5, "alertStroke": False},
        {"label": labels["status_offline"], "fillOpacity": 0.15, "strokeColor": "#555555", "strokeWeight": 2, "alertStroke": False},
        {"label": labels["status_fault"], "fillOpacity": 0.15, "strokeColor": "#d50000", "strokeWeight": 3, "alertStroke": True},
        {"label": labels["status_unknown"], "fillOpacity": 0.15, "strokeColor": "#555555", "strokeWeight": 2, "alertStroke": False},
    ]
    label_keys = {
        "deviceId": "device_id", "idCentre": "id_centre", "idIndustry": "id_industry", "idType": "id_type",
        "idNetwork": "id_network", "idSerial": "id_serial", "cameraKind": "camera_kind",
        "cameraStatus": "camera_status", "policeLinked": "police_linked", "station": "station",
        "yes": "yes", "no": "no",
    }
    return {
        "kinds": kinds,
        "statuses": statuses,
        "unlinked": {"dashArray": "3 2", "strokeWeight": 2.5, "strokeColor": "#000000"},
        "radius": CAMERA_RADIUS,
        "disableClusteringAtZoom": None,
        "labels": {js_key: labels[key] for js_key, key in label_keys.items()},
    }


def _display_transform(base_map: BaseMap) -> PositionTransform:
    return gcj02.wgs84_to_gcj02 if base_map.needs_gcj02 else identity


def build_overview_map(
    *,
    grids: Mapping[str, Any],
    cameras: Mapping[str, Any],
    tracks: Mapping[str, Any] | None = None,
    effort: Mapping[str, Any] | None = None,
    base_map: Mapping[str, Any] | None = None,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> folium.Map:
    """Build the overview map from gridsvc's GeoJSON FeatureCollections (coordinates WGS-84)."""
    text = resolve_labels(labels)
    resolved_base_map = resolve_base_map(base_map)
    transform = _display_transform(resolved_base_map)
    bounds = Bounds()
    skipped = _Skipped()

    grids_by_level = _grid_layers(features_of(grids, "grids"), transform, text, bounds, skipped)
    station_names = {
        feature["properties"]["code"]: feature["properties"]["name"]
        for level in ("station", "cell", "centre")
        for feature in grids_by_level[level]
        if feature["properties"]["code"] is not None
    }
    camera_data = _camera_columns(features_of(cameras, "cameras"), transform, bounds, skipped, station_names)
    track_data = None if tracks is None else _track_features(features_of(tracks, "tracks"), transform, text, bounds, skipped)
    effort_data, breaks = (None, None) if effort is None else _effort_features(features_of(effort, "effort"), transform, bounds, skipped)

    m = folium.Map(
        location=_EMPTY_MAP_CENTRE if bounds.is_empty else bounds.centre_lat_lon(),
        zoom_start=_EMPTY_MAP_ZOOM,
        tiles=None,
        control_scale=True,
        # One shared canvas for all vectors: fast for 100k CircleMarkers, and hit-testing stays in
        # one z-order (a separate camera canvas would cover the polygons' tooltips).
        prefer_canvas=True,
        # folium hands min_zoom/max_zoom only to a default tile layer; with tiles=None the map has
        # no maxZoom and markercluster refuses to start, so set Leaflet's map options directly.
        **{"minZoom": _MIN_ZOOM, "maxZoom": resolved_base_map.max_zoom},
    )
    page_title = title if title is not None else text["title"]
    m.get_root().title = html_text(page_title)  # branca puts it into <title> unescaped
    for tile_layer in tile_layers(resolved_base_map):
        tile_layer.add_to(m)

    has_cells = bool(grids_by_level["cell"])
    layer_count = 3 + int(has_cells) + int(track_data is not None) + int(effort_data is not None)
    GridsvcSetup({
        "expectedReports": layer_count,
        "attributionPrefixHtml": "Leaflet",
        "noTiles": not resolved_base_map.tiles,
        "title": title,
        "skipped": dict(skipped),
        # Fitted in init, before any layer: a fit afterwards would animate from the opening zoom
        # and markercluster would still be re-clustering when the page reports ready.
        "bounds": None if bounds.is_empty else bounds.as_leaflet(),
    }).add_to(m)

    grid_labels = {
        "code": text["code"], "level": text["level"], "volunteers": text["volunteers"], "hours": text["hours"],
        "percent": text["percent"], "cameraCount": text["camera_count"], "noData": text["no_data"],
    }
    # Drawn bottom to top: effort under the stations, the centre outline above them, cameras last.
    if effort_data is not None:
        GridsvcDataLayer(
            factory="effortLayer", name=html_text(text["layer_effort"]), data=effort_data,
            options={"style": {"color": "#999999", "weight": 0.5, "fillOpacity": 0.65}, "fills": list(EFFORT_FILLS),
                     "labels": {"effortHours": text["effort_hours"]}},
            show=False,
        ).add_to(m)
    for level, layer_label, fills in (
        ("station", "layer_stations", list(COMPLETION_FILLS)),
        ("cell", "layer_cells", None),
        ("centre", "layer_centre", None),
    ):
        if level == "cell" and not has_cells:
            continue
        GridsvcDataLayer(
            factory="gridLayer", name=html_text(text[layer_label]), data=grids_by_level[level],
            options={"style": GRID_STYLES[level], "fills": fills, "labels": grid_labels},
        ).add_to(m)
    if track_data is not None:
        GridsvcDataLayer(
            factory="trackLayer", name=html_text(text["layer_tracks"]), data=track_data,
            options={"styles": list(TRACK_STYLES),
                     "labels": {"patroller": text["patroller"], "start": text["start"], "end": text["end"], "hours": text["hours"]}},
        ).add_to(m)
    GridsvcCameraLayer(name=html_text(text["layer_cameras"]), data=camera_data, options=_camera_layer_options(text)).add_to(m)

    camera_kinds_seen = {flags & _FLAG_KIND_MASK for flags in camera_data["flags"]}
    GridsvcControls(
        legend=_legend(text, has_cells=has_cells, camera_kinds_seen=camera_kinds_seen,
                       has_tracks=track_data is not None, effort_breaks_used=breaks),
        fullscreen_labels={"fullscreen": text["fullscreen"], "exitFullscreen": text["exit_fullscreen"]},
    ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)

    # Links default to the app's vendor prefix, so even m.get_root().render() loads nothing external.
    localize_assets(m)
    return m
