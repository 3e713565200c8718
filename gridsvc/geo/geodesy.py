"""Geodesic distances on the WGS-84 ellipsoid (Vincenty's inverse formula), pure Python.

Own implementation rather than pyproj: pyproj 3.8 has no wheel for this project's Python 3.11,
and track lengths need only short lines, where Vincenty's 1975 formula is accurate to well under a
millimetre. Vincenty does not converge for nearly antipodal points; those fall back to a
great-circle distance on the mean-radius sphere (error below 0.5 %), which can only happen with
garbage input, never between consecutive points of a real track.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
# IUGG mean radius R1 = (2a + b) / 3 of WGS-84, for the antipodal fallback only.
MEAN_EARTH_RADIUS_M = 6371008.8

_MAX_ITERATIONS = 200
_CONVERGENCE_RAD = 1e-12  # about 0.006 mm on the ellipsoid


def geodesic_distance_m(
    lon1: float, lat1: float, lon2: float, lat2: float, *, a: float = WGS84_A, f: float = WGS84_F
) -> float:
    """Shortest distance in metres between two lon/lat points (degrees) on the ellipsoid (a, f)."""
    if lon1 == lon2 and lat1 == lat2:
        return 0.0
    b = a * (1 - f)
    delta_lon = math.radians(_wrap_degrees(lon2 - lon1))
    reduced_lat1 = math.atan((1 - f) * math.tan(math.radians(lat1)))
    reduced_lat2 = math.atan((1 - f) * math.tan(math.radians(lat2)))
    sin_u1, cos_u1 = math.sin(reduced_lat1), math.cos(reduced_lat1)
    sin_u2, cos_u2 = math.sin(reduced_lat2), math.cos(reduced_lat2)

    lam = delta_lon
    for _ in range(_MAX_ITERATIONS):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        if sin_sigma == 0.0:
            return 0.0  # coincident points (e.g. both on the same pole)
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha * sin_alpha
        # On an equatorial line cos2_alpha is 0 and the term is irrelevant (multiplied by C = 0).
        cos_2sigma_m = cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha != 0.0 else 0.0
        c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        previous_lam = lam
        lam = delta_lon + (1 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sigma_m + c * cos_sigma * (-1 + 2 * cos_2sigma_m * cos_2sigma_m))
        )
        if abs(lam) > math.pi:
            break  # diverging: nearly antipodal
        if abs(lam - previous_lam) < _CONVERGENCE_RAD:
            u2 = cos2_alpha * (a * a - b * b) / (b * b)
            big_a = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
            big_b = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))
            delta_sigma = big_b * sin_sigma * (
                cos_2sigma_m
                + big_b
                / 4
                * (
                    cos_sigma * (-1 + 2 * cos_2sigma_m * cos_2sigma_m)
                    - big_b / 6 * cos_2sigma_m * (-3 + 4 * sin_sigma * sin_sigma) * (-3 + 4 * cos_2sigma_m * cos_2sigma_m)
                )
            )
            return b * big_a * (sigma - delta_sigma)
    return great_circle_distance_m(lon1, lat1, lon2, lat2)


def great_circle_distance_m(
    lon1: float, lat1: float, lon2: float, lat2: float, *, radius: float = MEAN_EARTH_RADIUS_M
) -> float:
    """Great-circle distance in metres on a sphere (Vincenty's arctangent form, stable for all cases)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    delta = math.radians(_wrap_degrees(lon2 - lon1))
    numerator = math.hypot(
        math.cos(phi2) * math.sin(delta), math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(delta)
    )
    denominator = math.sin(phi1) * math.sin(phi2) + math.cos(phi1) * math.cos(phi2) * math.cos(delta)
    return radius * math.atan2(numerator, denominator)


def path_length_m(lon_lat_points: Iterable[tuple[float, float]]) -> float:
    """Geodesic length in metres of a polyline given as (lon, lat) pairs."""
    total = 0.0
    previous = None
    for lon, lat in lon_lat_points:
        if previous is not None:
            total += geodesic_distance_m(previous[0], previous[1], lon, lat)
        previous = (lon, lat)
    return total


def _wrap_degrees(degrees: float) -> float:
    """A longitude difference folded into [-180, 180] so lines never go the long way round."""
    return (degrees + 180.0) % 360.0 - 180.0 if not -180.0 <= degrees <= 180.0 else degrees
