"""Geography shared by both executors: unit vectors and great-circle distances.

Each formula is written twice on purpose -- once with :mod:`math` for one transaction (the
online path) and once with numpy for arrays (the batch path) -- side by side, so they stay the
same formula; the parity tests check that they agree.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from fraudwatch.features._definitions import EARTH_RADIUS_KM

__all__ = [
    "CENTROID_MIN_NORM",
    "haversine_km",
    "haversine_km_np",
    "km_to_centroid",
    "km_to_centroid_np",
    "unit_vector",
    "unit_vector_np",
]

F64 = npt.NDArray[np.float64]

CENTROID_MIN_NORM = 1e-6
"""A usual location is undefined when the mean unit vector is shorter than this."""


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """The point on the unit sphere at ``(lat, lon)`` degrees."""
    la, lo = math.radians(lat), math.radians(lon)
    c = math.cos(la)
    return c * math.cos(lo), c * math.sin(lo), math.sin(la)


def unit_vector_np(lat: F64, lon: F64) -> tuple[F64, F64, F64]:
    """Array form of :func:`unit_vector`."""
    la, lo = np.radians(lat), np.radians(lon)
    c = np.cos(la)
    return c * np.cos(lo), c * np.sin(lo), np.sin(la)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2) - math.radians(lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def haversine_km_np(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Array form of :func:`haversine_km`."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: F64 = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return out


def km_to_centroid(
    point: tuple[float, float, float], sx: float, sy: float, sz: float, n: int
) -> float | None:
    """Great-circle km from ``point`` to the direction of the summed unit vectors ``s``.

    ``None`` when ``n`` is 0 or the mean vector is shorter than :data:`CENTROID_MIN_NORM`.
    """
    if n <= 0:
        return None
    norm = math.sqrt(sx * sx + sy * sy + sz * sz)
    if norm < CENTROID_MIN_NORM * n:
        return None
    px, py, pz = point
    cx = py * sz - pz * sy
    cy = pz * sx - px * sz
    cz = px * sy - py * sx
    cross = math.sqrt(cx * cx + cy * cy + cz * cz)
    dot = px * sx + py * sy + pz * sz
    return EARTH_RADIUS_KM * math.atan2(cross, dot)


def km_to_centroid_np(
    point: tuple[F64, F64, F64], sx: F64, sy: F64, sz: F64, n: npt.NDArray[np.int64]
) -> F64:
    """Array form of :func:`km_to_centroid` (NaN where undefined)."""
    norm = np.sqrt(sx * sx + sy * sy + sz * sz)
    px, py, pz = point
    cx = py * sz - pz * sy
    cy = pz * sx - px * sz
    cz = px * sy - py * sx
    cross = np.sqrt(cx * cx + cy * cy + cz * cz)
    dot = px * sx + py * sy + pz * sz
    km = EARTH_RADIUS_KM * np.arctan2(cross, dot)
    return np.where((n > 0) & (norm >= CENTROID_MIN_NORM * n), km, np.nan)
