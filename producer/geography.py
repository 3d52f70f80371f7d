"""Where cards live and merchants trade: a small built-in table of world cities.

Enough spread (continents, dense clusters in Europe and North America) to make legitimate
domestic travel and impossible international travel both possible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0
# A commercial jet cruises at ~900 km/h; anything faster between two card uses is impossible.
MAX_PLAUSIBLE_SPEED_KMH = 1000.0


@dataclass(frozen=True)
class City:
    name: str
    country: str
    lat: float
    lon: float


CITIES: tuple[City, ...] = (
    City("Paris", "FR", 48.857, 2.352),
    City("Lyon", "FR", 45.764, 4.836),
    City("Marseille", "FR", 43.296, 5.370),
    City("Brussels", "BE", 50.850, 4.352),
    City("Antwerp", "BE", 51.219, 4.402),
    City("Amsterdam", "NL", 52.370, 4.895),
    City("Berlin", "DE", 52.520, 13.405),
    City("Munich", "DE", 48.135, 11.582),
    City("Hamburg", "DE", 53.551, 9.994),
    City("Madrid", "ES", 40.417, -3.704),
    City("Barcelona", "ES", 41.385, 2.173),
    City("Rome", "IT", 41.903, 12.496),
    City("Milan", "IT", 45.464, 9.190),
    City("Lisbon", "PT", 38.722, -9.139),
    City("Dublin", "IE", 53.350, -6.260),
    City("London", "GB", 51.507, -0.128),
    City("Manchester", "GB", 53.481, -2.243),
    City("Edinburgh", "GB", 55.953, -3.188),
    City("Stockholm", "SE", 59.329, 18.069),
    City("Warsaw", "PL", 52.230, 21.012),
    City("New York", "US", 40.713, -74.006),
    City("Chicago", "US", 41.878, -87.630),
    City("Los Angeles", "US", 34.052, -118.244),
    City("San Francisco", "US", 37.775, -122.419),
    City("Houston", "US", 29.760, -95.370),
    City("Miami", "US", 25.762, -80.192),
    City("Seattle", "US", 47.606, -122.332),
    City("Boston", "US", 42.360, -71.059),
    City("Toronto", "CA", 43.653, -79.383),
    City("Montreal", "CA", 45.502, -73.567),
    City("Mexico City", "MX", 19.433, -99.133),
    City("Sao Paulo", "BR", -23.551, -46.633),
    City("Buenos Aires", "AR", -34.604, -58.382),
    City("Lagos", "NG", 6.524, 3.379),
    City("Johannesburg", "ZA", -26.204, 28.047),
    City("Cairo", "EG", 30.044, 31.236),
    City("Dubai", "AE", 25.205, 55.271),
    City("Mumbai", "IN", 19.076, 72.878),
    City("Singapore", "SG", 1.352, 103.820),
    City("Hong Kong", "HK", 22.320, 114.169),
    City("Tokyo", "JP", 35.676, 139.650),
    City("Sydney", "AU", -33.869, 151.209),
)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
