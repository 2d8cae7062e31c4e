"""Static reference data of the simulator: cities, merchant categories, daily rhythms.

Everything here is plain data (tuples of frozen dataclasses and small numpy builders); nothing
is random. Amounts are given in euro and converted to the currency of the country where a
payment happens with the rates in :data:`FX_PER_EUR`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CATEGORIES",
    "CITIES",
    "COUNTRIES",
    "DOW_FACTOR",
    "FX_PER_EUR",
    "HOUR_PROFILES",
    "Category",
    "City",
    "Country",
    "category_index",
    "city_distance_km",
    "haversine_km",
    "hour_cdf_table",
]

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Country:
    """A country: ISO codes and the first octets its home and mobile IP addresses use."""

    code: str
    currency: str
    home_octets: tuple[int, ...]
    mobile_octet: int


@dataclass(frozen=True)
class City:
    """A city where customers live and merchants trade.

    ``utc_offset_hours`` is the standard-time offset (daylight saving time is ignored);
    ``weight`` is the relative share of the population living there.
    """

    name: str
    country: str
    lat: float
    lon: float
    utc_offset_hours: int
    weight: float


@dataclass(frozen=True)
class Category:
    """A merchant category with its MCC, channel mix, amount distribution and rhythm.

    Parameters
    ----------
    name:
        Short name used in the documentation and the fraud scenarios.
    mcc:
        Four-digit merchant category code (a string, leading zeros kept).
    weight:
        Relative share of legitimate transactions in this category.
    ecom_share:
        Share of the category's payments made online (0: card present only, 1: online only).
    median_eur, sigma:
        Lognormal amount distribution: median in euro and sigma of the log.
    profile:
        Name of the hourly profile in :data:`HOUR_PROFILES`.
    dow:
        Relative popularity of the category on Monday..Sunday.
    atm:
        Card-present payments of this category are cash withdrawals (channel ``atm``).
    big_ticket:
        Probability that a payment is an occasional big purchase (about 4 times the usual
        amount): a television, a family holiday, a large cash withdrawal.
    """

    name: str
    mcc: str
    weight: float
    ecom_share: float
    median_eur: float
    sigma: float
    profile: str
    dow: tuple[float, float, float, float, float, float, float]
    atm: bool = False
    big_ticket: float = 0.0


COUNTRIES: tuple[Country, ...] = (
    Country("GB", "GBP", (81, 86, 51), 92),
    Country("FR", "EUR", (90, 82, 78), 37),
    Country("DE", "EUR", (84, 87, 91), 46),
    Country("ES", "EUR", (83, 88, 79), 31),
    Country("IT", "EUR", (79, 93, 95), 151),
    Country("NL", "EUR", (77, 145, 62), 94),
    Country("IE", "EUR", (89, 109, 86), 37),
    Country("CH", "CHF", (85, 178, 213), 31),
    Country("AT", "EUR", (80, 193, 62), 176),
    Country("PT", "EUR", (85, 148, 89), 94),
    Country("US", "USD", (24, 68, 73), 172),
)

CITIES: tuple[City, ...] = (
    City("London", "GB", 51.5074, -0.1278, 0, 9.0),
    City("Manchester", "GB", 53.4808, -2.2426, 0, 3.0),
    City("Paris", "FR", 48.8566, 2.3522, 1, 8.0),
    City("Lyon", "FR", 45.7640, 4.8357, 1, 2.5),
    City("Berlin", "DE", 52.5200, 13.4050, 1, 6.0),
    City("Munich", "DE", 48.1351, 11.5820, 1, 3.0),
    City("Madrid", "ES", 40.4168, -3.7038, 1, 5.0),
    City("Barcelona", "ES", 41.3874, 2.1686, 1, 3.5),
    City("Rome", "IT", 41.9028, 12.4964, 1, 4.0),
    City("Milan", "IT", 45.4642, 9.1900, 1, 3.0),
    City("Amsterdam", "NL", 52.3676, 4.9041, 1, 3.0),
    City("Dublin", "IE", 53.3498, -6.2603, 0, 2.0),
    City("Zurich", "CH", 47.3769, 8.5417, 1, 2.0),
    City("Vienna", "AT", 48.2082, 16.3738, 1, 2.0),
    City("Lisbon", "PT", 38.7223, -9.1393, 0, 2.0),
    City("New York", "US", 40.7128, -74.0060, -5, 5.0),
)

FX_PER_EUR: dict[str, float] = {"EUR": 1.0, "GBP": 0.86, "CHF": 0.95, "USD": 1.08}
"""Units of each currency worth one euro (fixed rates)."""

_WEEK = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)

CATEGORIES: tuple[Category, ...] = (
    Category(
        "grocery",
        "5411",
        0.25,
        0.0,
        32.0,
        0.75,
        "shop",
        (1.0, 1.0, 1.0, 1.0, 1.15, 1.3, 0.45),
        big_ticket=0.01,
    ),
    Category("fuel", "5541", 0.08, 0.0, 55.0, 0.35, "fuel", (1.0, 1.0, 1.0, 1.0, 1.1, 1.0, 0.8)),
    Category(
        "restaurants",
        "5812",
        0.11,
        0.12,
        30.0,
        0.6,
        "restaurant",
        (0.8, 0.85, 0.9, 1.0, 1.35, 1.45, 1.0),
        big_ticket=0.02,
    ),
    Category("fast_food", "5814", 0.08, 0.0, 11.0, 0.45, "fast_food", _WEEK),
    Category(
        "transport",
        "4111",
        0.05,
        0.0,
        4.0,
        0.5,
        "transport",
        (1.15, 1.15, 1.15, 1.15, 1.1, 0.65, 0.55),
    ),
    Category("pharmacy", "5912", 0.04, 0.0, 18.0, 0.6, "shop", (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.3)),
    Category(
        "clothing",
        "5651",
        0.04,
        0.3,
        55.0,
        0.7,
        "shop",
        (0.8, 0.8, 0.85, 0.9, 1.1, 1.7, 0.5),
        big_ticket=0.05,
    ),
    Category(
        "electronics",
        "5732",
        0.015,
        0.4,
        120.0,
        0.9,
        "shop",
        (0.9, 0.9, 0.9, 0.9, 1.1, 1.5, 0.7),
        big_ticket=0.08,
    ),
    Category(
        "jewelry",
        "5944",
        0.004,
        0.0,
        180.0,
        0.8,
        "shop",
        (0.8, 0.8, 0.8, 0.9, 1.1, 1.7, 0.4),
        big_ticket=0.1,
    ),
    Category(
        "hotels",
        "7011",
        0.006,
        0.6,
        130.0,
        0.5,
        "hotel",
        (0.9, 0.9, 0.9, 1.0, 1.2, 1.2, 0.9),
        big_ticket=0.1,
    ),
    Category(
        "atm_cash",
        "6011",
        0.05,
        0.0,
        80.0,
        0.6,
        "atm",
        (1.0, 1.0, 1.0, 1.0, 1.2, 1.1, 0.7),
        atm=True,
        big_ticket=0.04,
    ),
    Category(
        "online_retail",
        "5999",
        0.09,
        1.0,
        40.0,
        0.9,
        "online",
        (1.0, 1.0, 1.0, 1.0, 0.9, 0.9, 1.25),
        big_ticket=0.03,
    ),
    Category("books_media", "5942", 0.02, 1.0, 18.0, 0.6, "online", _WEEK),
    Category(
        "digital_goods",
        "5815",
        0.04,
        1.0,
        8.0,
        0.8,
        "online",
        (1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.15),
    ),
    Category("airlines", "4511", 0.006, 1.0, 220.0, 0.7, "hotel", _WEEK, big_ticket=0.15),
    Category(
        "gambling",
        "7995",
        0.008,
        1.0,
        30.0,
        1.0,
        "gambling",
        (0.85, 0.85, 0.9, 1.0, 1.15, 1.35, 1.3),
        big_ticket=0.03,
    ),
)

DOW_FACTOR: tuple[float, ...] = (0.95, 0.97, 1.0, 1.02, 1.12, 1.15, 0.8)
"""Overall spending intensity Monday..Sunday (relative)."""

# Relative number of payments per local hour 0..23: (weekday, weekend).
HOUR_PROFILES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "shop": (
        (1, 0, 0, 0, 0, 1, 3, 8, 14, 18, 22, 25, 28, 26, 24, 24, 28, 34, 36, 30, 20, 10, 4, 2),
        (2, 1, 0, 0, 0, 0, 1, 3, 8, 16, 26, 32, 34, 32, 30, 28, 26, 24, 20, 14, 8, 4, 2, 1),
    ),
    "fuel": (
        (2, 1, 1, 1, 1, 3, 10, 22, 20, 14, 12, 12, 13, 12, 12, 14, 20, 24, 20, 13, 8, 5, 3, 2),
        (2, 1, 1, 1, 1, 1, 3, 6, 10, 14, 16, 17, 16, 15, 15, 15, 15, 14, 12, 9, 6, 4, 3, 2),
    ),
    "restaurant": (
        (3, 1, 0, 0, 0, 0, 1, 2, 4, 4, 5, 12, 30, 28, 10, 5, 5, 8, 20, 34, 32, 22, 10, 5),
        (6, 3, 1, 0, 0, 0, 0, 1, 4, 8, 10, 16, 30, 32, 16, 8, 8, 12, 24, 36, 36, 26, 14, 9),
    ),
    "fast_food": (
        (4, 2, 1, 0, 0, 1, 3, 10, 14, 8, 8, 16, 30, 26, 12, 8, 10, 16, 20, 18, 14, 10, 8, 6),
        (8, 5, 2, 1, 0, 0, 1, 4, 8, 10, 12, 18, 26, 24, 16, 12, 12, 16, 20, 18, 16, 14, 12, 10),
    ),
    "transport": (
        (2, 1, 0, 0, 0, 2, 10, 30, 32, 16, 8, 8, 9, 8, 8, 12, 20, 30, 26, 14, 8, 6, 5, 3),
        (5, 3, 1, 0, 0, 0, 2, 4, 6, 9, 12, 14, 15, 15, 15, 14, 14, 13, 12, 11, 10, 9, 8, 6),
    ),
    "atm": (
        (1, 1, 0, 0, 0, 0, 2, 6, 12, 16, 18, 20, 24, 22, 18, 18, 20, 22, 20, 14, 8, 5, 3, 2),
        (2, 1, 1, 0, 0, 0, 1, 3, 8, 14, 20, 24, 24, 22, 18, 16, 16, 16, 14, 10, 7, 4, 3, 2),
    ),
    "online": (
        (6, 3, 2, 1, 1, 1, 2, 5, 8, 10, 11, 12, 14, 13, 12, 12, 13, 15, 18, 22, 26, 26, 20, 12),
        (8, 5, 3, 2, 1, 1, 2, 4, 8, 12, 15, 17, 18, 17, 16, 16, 17, 18, 20, 23, 25, 24, 18, 12),
    ),
    "gambling": (
        (12, 8, 5, 3, 2, 1, 1, 2, 3, 4, 5, 6, 8, 8, 7, 7, 8, 10, 14, 20, 26, 30, 26, 18),
        (16, 12, 8, 5, 3, 2, 1, 2, 3, 5, 7, 10, 14, 16, 18, 20, 22, 22, 24, 28, 30, 30, 26, 20),
    ),
    "hotel": (
        (1, 0, 0, 0, 0, 1, 3, 8, 14, 12, 10, 10, 9, 9, 10, 14, 18, 18, 14, 10, 6, 4, 2, 1),
        (1, 0, 0, 0, 0, 1, 2, 6, 12, 14, 12, 11, 10, 10, 11, 14, 16, 16, 14, 10, 6, 4, 2, 1),
    ),
}


def category_index(name: str) -> int:
    """Return the position of a category in :data:`CATEGORIES`.

    >>> CATEGORIES[category_index("grocery")].mcc
    '5411'
    """
    for i, cat in enumerate(CATEGORIES):
        if cat.name == name:
            return i
    raise KeyError(name)


def hour_cdf_table() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Cumulative hourly distributions and, per category, the row of its weekday profile.

    Returns
    -------
    cdf:
        Array ``(2 * n_profiles, 24)``; row ``2 * p`` is profile ``p`` on weekdays and row
        ``2 * p + 1`` on weekends. Each row ends at 1.
    cat_row:
        For each category, ``2 * p`` where ``p`` is its profile.
    """
    names = list(HOUR_PROFILES)
    rows = []
    for name in names:
        for part in HOUR_PROFILES[name]:
            w = np.asarray(part, dtype=np.float64) + 0.05  # no hour is strictly impossible
            rows.append(np.cumsum(w) / w.sum())
    cdf = np.vstack(rows)
    cat_row = np.array([2 * names.index(c.profile) for c in CATEGORIES], dtype=np.int64)
    return cdf, cat_row


def haversine_km(
    lat1: NDArray[np.float64] | float,
    lon1: NDArray[np.float64] | float,
    lat2: NDArray[np.float64] | float,
    lon2: NDArray[np.float64] | float,
) -> NDArray[np.float64]:
    """Great-circle distance in kilometres between points given in degrees.

    >>> round(float(haversine_km(48.8566, 2.3522, 51.5074, -0.1278)))
    344
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def city_distance_km() -> NDArray[np.float64]:
    """Matrix of distances in kilometres between the centres of :data:`CITIES`."""
    lat = np.array([c.lat for c in CITIES])
    lon = np.array([c.lon for c in CITIES])
    return haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
