"""Where a point or an address is, as a KATO code: the gazetteer Open311 locations go through.

Pure data and arithmetic, no I/O. What it knows (a documented gazetteer, not boundary data):

- the 20 top-level units of KATO (`contracts.REGION_KATO`: 17 regions and the 3 cities of
  republican significance), each by its administrative centre and a radius that covers the
  unit's settled area — a point belongs to the city whose radius holds it, else to the
  region whose centre is nearest among those whose radius holds it;
- Astana's six districts (`contracts.IKOMEK_DISTRICT_KATO`), by centre: a point in Astana
  goes to the nearest district centre (district KATO `7112…`), as iKomek's districts do;
- the country's outline as a coarse polygon (about 30 km off the true border at worst): a
  point outside it is outside Kazakhstan whatever the radii say, a point inside it that no
  radius reaches goes to the nearest region (Tashkent is 110 km from
  Shymkent and 10 km from the border, Bishkek 20 km, Omsk 80 km);
- names: an `address_string` that names a city or region (in Kazakh, Russian or English)
  gives that unit's KATO — without coordinates nothing finer can be known.

Centre-and-radius is coarse near the regions' borders (Kordai, of Zhambyl region, is
nearer Almaty region's centre): routing then proposes a body of the neighbouring region,
which redirects. The KATO codes given are 9 digits: a region `RR0000000`, an Astana
district its own code.
Finer mapping (every district of every region) needs the official boundary data, which a
deployment can add here without changing any caller (`place_of` is the whole interface).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from contracts import IKOMEK_DISTRICT_KATO, REGION_KATO

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Unit:
    kato_prefix: str
    """Two digits: the KATO region (`71` Astana)."""
    lat: float
    lon: float
    radius_km: float
    city: bool

    @property
    def kato(self) -> str:
        return f"{self.kato_prefix}0000000"


# Administrative centres; radii cover each unit's settled area (cities: the city itself).
UNITS: tuple[Unit, ...] = (
    Unit("71", 51.1282, 71.4306, 30, city=True),  # Astana
    Unit("75", 43.2380, 76.9450, 25, city=True),  # Almaty
    Unit("79", 42.3417, 69.5901, 20, city=True),  # Shymkent
    Unit("10", 50.4111, 80.2275, 420, city=False),  # Abai: Semey
    Unit("11", 53.2833, 69.3833, 330, city=False),  # Akmola: Kokshetau
    Unit("15", 50.2839, 57.1670, 450, city=False),  # Aktobe
    Unit("19", 43.8667, 77.0667, 350, city=False),  # Almaty Region: Konaev
    Unit("23", 47.1167, 51.8833, 330, city=False),  # Atyrau
    Unit("27", 51.2333, 51.3667, 380, city=False),  # West Kazakhstan: Oral
    Unit("31", 42.9000, 71.3667, 400, city=False),  # Zhambyl: Taraz
    Unit("33", 45.0167, 78.3667, 330, city=False),  # Zhetisu: Taldykorgan
    Unit("35", 49.8047, 73.1094, 480, city=False),  # Karaganda
    Unit("39", 53.2144, 63.6246, 450, city=False),  # Kostanay
    Unit("43", 44.8528, 65.5092, 480, city=False),  # Kyzylorda
    Unit("47", 43.6500, 51.1667, 450, city=False),  # Mangystau: Aktau
    Unit("55", 52.2873, 76.9674, 330, city=False),  # Pavlodar
    Unit("59", 54.8667, 69.1500, 280, city=False),  # North Kazakhstan: Petropavl
    Unit("61", 43.3000, 68.2500, 380, city=False),  # Turkistan
    Unit("62", 47.7833, 67.7000, 480, city=False),  # Ulytau: Zhezkazgan
    Unit("63", 49.9483, 82.6275, 380, city=False),  # East Kazakhstan: Oskemen
)

# Astana's districts by centre (nearest centre wins inside the city).
ASTANA_DISTRICTS: dict[str, tuple[float, float]] = {
    IKOMEK_DISTRICT_KATO["ALMATY"]: (51.1480, 71.4960),
    IKOMEK_DISTRICT_KATO["BAIKONYR"]: (51.1780, 71.4330),
    IKOMEK_DISTRICT_KATO["YESIL"]: (51.0950, 71.4170),
    IKOMEK_DISTRICT_KATO["SARYARKA"]: (51.1750, 71.3800),
    IKOMEK_DISTRICT_KATO["NURA"]: (51.0550, 71.3500),
    IKOMEK_DISTRICT_KATO["SARAISHYK"]: (51.1150, 71.5200),
}

# Kazakhstan's outline, (lat, lon) clockwise from the Caspian shore at the Russian border.
# Coarse on purpose: it decides "in the country or not", the units decide where.
OUTLINE: tuple[tuple[float, float], ...] = (
    (46.55, 49.20),
    (48.10, 46.60),
    (49.10, 46.50),
    (50.30, 47.30),
    (50.85, 48.60),
    (51.55, 50.40),
    (51.60, 52.60),
    (51.00, 55.60),
    (50.80, 58.60),
    (51.00, 60.50),
    (52.50, 61.00),
    (54.00, 61.20),
    (54.50, 65.50),
    (55.40, 68.40),
    (55.40, 70.80),
    (54.20, 73.40),
    (53.50, 76.40),
    (52.20, 78.50),
    (51.30, 80.40),
    (50.80, 83.40),
    (49.60, 85.40),
    (49.10, 87.30),
    (47.50, 85.60),
    (47.00, 83.00),
    (45.20, 82.60),
    (44.90, 80.50),
    (43.00, 80.30),
    (42.80, 79.00),
    (43.10, 75.60),
    (42.95, 74.20),
    (42.60, 71.40),
    (42.20, 70.80),
    (41.75, 70.20),
    (41.40, 69.30),
    (41.20, 68.90),
    (40.60, 68.30),
    (41.30, 67.50),
    (42.40, 66.40),
    (43.70, 65.40),
    (44.70, 62.00),
    (45.00, 58.60),
    (45.00, 56.00),
    (41.30, 56.00),
    (41.90, 53.00),
    (42.50, 52.50),
    (44.30, 50.30),
    (45.50, 49.70),
)

# Names an address may carry, lower case, in Kazakh, Russian and English, per KATO region
# (the cities' own names, and each region's name and centre).
NAMES: dict[str, tuple[str, ...]] = {
    "71": ("астана", "astana", "нур-султан", "nur-sultan"),
    "75": ("алматы қ", "алматы", "almaty", "almaty city", "г. алматы", "город алматы"),
    "79": ("шымкент", "shymkent"),
    "10": ("абай облысы", "область абай", "abai region", "семей", "semey"),
    "11": ("ақмола", "акмол", "akmola", "көкшетау", "кокшетау", "kokshetau"),
    "15": ("ақтөбе", "актюб", "актобе", "aktobe"),
    "19": ("алматы облысы", "алматинская", "almaty region", "қонаев", "конаев", "konaev"),
    "23": ("атырау", "atyrau"),
    "27": ("батыс қазақстан", "западно-казахстан", "west kazakhstan", "орал", "уральск", "oral"),
    "31": ("жамбыл", "zhambyl", "тараз", "taraz"),
    "33": ("жетісу", "жетысу", "zhetisu", "талдықорған", "талдыкорган", "taldykorgan"),
    "35": ("қарағанды", "караганд", "karaganda"),
    "39": ("қостанай", "костанай", "kostanay"),
    "43": ("қызылорда", "кызылорд", "kyzylorda"),
    "47": ("маңғыстау", "мангист", "mangystau", "ақтау", "актау", "aktau"),
    "55": ("павлодар", "pavlodar"),
    "59": ("солтүстік қазақстан", "северо-казахстан", "north kazakhstan", "петропавл"),
    "61": ("түркістан", "туркестан", "turkistan"),
    "62": ("ұлытау", "улытау", "ulytau", "жезқазған", "жезказган", "zhezkazgan"),
    "63": ("шығыс қазақстан", "восточно-казахстан", "east kazakhstan", "өскемен", "oskemen"),
}
assert set(NAMES) == set(REGION_KATO) == {u.kato_prefix for u in UNITS}


class OutsideKazakhstan(ValueError):
    """The point is not in Kazakhstan (or in no unit the gazetteer knows)."""


def place_of(lat: float, lon: float) -> str:
    """The 9-digit KATO code of a point: an Astana district, else a city or region. Raises
    `OutsideKazakhstan` for a point outside the country."""
    if not inside_outline(lat, lon):
        raise OutsideKazakhstan(f"({lat}, {lon}) is outside Kazakhstan")
    distances = [(distance_km(lat, lon, u.lat, u.lon), u) for u in UNITS]
    cities = [(d, u) for d, u in distances if u.city and d <= u.radius_km]
    if cities:
        unit = min(cities, key=lambda pair: pair[0])[1]
        if unit.kato_prefix == "71":
            return min(
                ASTANA_DISTRICTS,
                key=lambda kato: distance_km(lat, lon, *ASTANA_DISTRICTS[kato]),
            )
        return unit.kato
    # Inside the outline: the nearest region whose radius holds it, else the nearest region
    # at all (a sparse corner — the Ustyurt, the far west — no radius reaches).
    regions = [(d, u) for d, u in distances if not u.city]
    within = [(d, u) for d, u in regions if d <= u.radius_km] or regions
    return min(within, key=lambda pair: pair[0])[1].kato


def place_named_in(address: str) -> str | None:
    """The KATO code of the city or region an address names first, or None. Addresses
    begin with the place (`Астана, Алматы ауданы, …` is in Astana); at one position the
    longer name wins (`Алматы облысы` is not `Алматы`)."""
    text = " ".join(address.lower().split())
    found = [
        (match.start(), -len(name), prefix)
        for prefix, names in NAMES.items()
        for name in names
        # Whole words only: `Coral street` is not Oral, `Жамбыла көшесі` not Zhambyl region.
        if (match := re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text))
    ]
    return f"{min(found)[2]}0000000" if found else None


def inside_outline(lat: float, lon: float) -> bool:
    """Ray casting on the outline (a plane approximation: fine at this coarseness)."""
    inside = False
    points = OUTLINE
    for (lat1, lon1), (lat2, lon2) in zip(points, points[1:] + points[:1], strict=True):
        if (lon1 > lon) != (lon2 > lon):
            crossing = lat1 + (lon - lon1) * (lat2 - lat1) / (lon2 - lon1)
            if lat < crossing:
                inside = not inside
    return inside


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
