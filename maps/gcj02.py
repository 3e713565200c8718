"""WGS-84 <-> GCJ-02 ("Mars coordinates") conversion for display on Gaode/Amap tiles.

GCJ-02 is WGS-84 plus a deliberate, smooth, position-dependent offset (about 576 m near the
zone). PROJ refuses to model it, so this is the widely published forward formula (the same one
eviltransform, prcoords and coord-convert implement) and an iterative inverse. Storage stays
WGS-84; only what is drawn over GCJ-02 tiles is shifted.
"""

from __future__ import annotations

import math

# Krasovsky 1940 ellipsoid, as the published algorithm uses it.
_SEMI_MAJOR_AXIS = 6378245.0
_ECCENTRICITY_SQUARED = 0.00669342162296594323

# Rough bounding box of China used by every public implementation: outside it no offset is applied.
_CHINA_MIN_LON, _CHINA_MAX_LON = 72.004, 137.8347
_CHINA_MIN_LAT, _CHINA_MAX_LAT = 0.8293, 55.8271

_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_ITERATIONS = 30


def is_outside_china(lon: float, lat: float) -> bool:
    """True where GCJ-02 applies no offset (outside the published China bounding box)."""
    return not (
        _CHINA_MIN_LON <= lon <= _CHINA_MAX_LON and _CHINA_MIN_LAT <= lat <= _CHINA_MAX_LAT
    )


def _offset_lat(x: float, y: float) -> float:
    result = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    result += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    result += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    result += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return result


def _offset_lon(x: float, y: float) -> float:
    result = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    result += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    result += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    result += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return result


def _offset_degrees(lon: float, lat: float) -> tuple[float, float]:
    d_lat = _offset_lat(lon - 105.0, lat - 35.0)
    d_lon = _offset_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _ECCENTRICITY_SQUARED * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_SEMI_MAJOR_AXIS * (1.0 - _ECCENTRICITY_SQUARED)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_SEMI_MAJOR_AXIS / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert one WGS-84 (lon, lat) to GCJ-02; points outside China are returned unchanged."""
    if is_outside_china(lon, lat):
        return lon, lat
    d_lon, d_lat = _offset_degrees(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Convert one GCJ-02 (lon, lat) back to WGS-84 by fixed-point iteration (error < 1e-9 deg)."""
    if is_outside_china(lon, lat):
        return lon, lat
    # The offset varies slowly, so wgs = gcj - offset(wgs) converges in a handful of steps.
    guess_lon, guess_lat = lon, lat
    for _ in range(_INVERSE_MAX_ITERATIONS):
        forward_lon, forward_lat = wgs84_to_gcj02(guess_lon, guess_lat)
        error_lon, error_lat = forward_lon - lon, forward_lat - lat
        guess_lon -= error_lon
        guess_lat -= error_lat
        if abs(error_lon) < _INVERSE_TOLERANCE_DEG and abs(error_lat) < _INVERSE_TOLERANCE_DEG:
            break
    return guess_lon, guess_lat
