"""A seeded simulation of a used-car market, written to the lake's raw zone as Parquet.

Ground truth: how long an advert takes to sell. With ``pp`` the price position (asking price /
valuation), ``age`` the vehicle's age in years at listing, ``miles`` its mileage in 10k miles,
``demand`` its model's demand score (z-scored), ``fuel`` and ``region`` effects from the tables
below, and ``eps`` Student-t noise (4 degrees of freedom, scale 0.22)::

    log(days) = 2.9 + 3.2 * log(pp) + 0.035 * age + 0.03 * miles - 0.30 * demand
                + FUEL_EFFECT[fuel] + REGION_EFFECT[region] + eps
    days_to_sell = clip(round(exp(log(days))), 1, 365)

An advert whose sale would fall after the snapshot date is still live: it stays in the lake
with no sold date (and so no label).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from daystosell_assets.lake.geography import POSTCODE_AREAS
from daystosell_assets.lake.layout import RAW_DATASETS, LakeLayout

FUELS = ("petrol", "diesel", "hybrid", "electric", "plug_in_hybrid")
FUEL_SHARE = (0.46, 0.30, 0.12, 0.07, 0.05)
FUEL_EFFECT = {"petrol": 0.0, "diesel": 0.12, "hybrid": -0.08, "electric": 0.05, "plug_in_hybrid": -0.02}
BODY_TYPES = ("hatchback", "saloon", "estate", "suv", "mpv", "coupe", "convertible")
REGION_EFFECT = {
    "London": -0.15, "South East": -0.08, "East of England": -0.03, "South West": 0.02,
    "West Midlands": 0.0, "East Midlands": 0.02, "Yorkshire and the Humber": 0.03, "North West": 0.0,
    "North East": 0.08, "Wales": 0.10, "Scotland": 0.07, "Northern Ireland": 0.12,
}

# (make, list price of a typical new car in GBP, models)
MAKES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Ford", 24_000, ("Fiesta", "Focus", "Puma", "Kuga", "Mondeo")),
    ("Vauxhall", 22_000, ("Corsa", "Astra", "Mokka", "Grandland", "Insignia")),
    ("Volkswagen", 29_000, ("Polo", "Golf", "T-Roc", "Tiguan", "Passat")),
    ("BMW", 42_000, ("1 Series", "3 Series", "5 Series", "X1", "X3")),
    ("Mercedes-Benz", 45_000, ("A Class", "C Class", "E Class", "GLA", "GLC")),
    ("Audi", 40_000, ("A1", "A3", "A4", "Q3", "Q5")),
    ("Toyota", 27_000, ("Yaris", "Corolla", "C-HR", "RAV4", "Aygo")),
    ("Nissan", 25_000, ("Micra", "Juke", "Qashqai", "Leaf", "X-Trail")),
    ("Kia", 24_000, ("Picanto", "Ceed", "Sportage", "Niro", "Sorento")),
    ("Hyundai", 24_000, ("i10", "i20", "i30", "Tucson", "Kona")),
    ("Peugeot", 24_000, ("208", "308", "2008", "3008", "5008")),
    ("Renault", 22_000, ("Clio", "Captur", "Megane", "Kadjar", "Zoe")),
    ("Skoda", 25_000, ("Fabia", "Octavia", "Superb", "Karoq", "Kodiaq")),
    ("Tesla", 50_000, ("Model 3", "Model Y", "Model S")),
    ("Land Rover", 60_000, ("Defender", "Discovery Sport", "Range Rover Evoque")),
)


@dataclass(frozen=True)
class MarketSpec:
    """How big a market to simulate, and from which seed."""

    adverts: int = 20_000
    seed: int = 20_26
    snapshot: date = date(2026, 11, 1)
    history_days: int = 730


def simulate_market(spec: MarketSpec) -> dict[str, pa.Table]:
    """The four raw datasets, as Arrow tables. The same spec always gives the same tables."""
    rng = np.random.default_rng(spec.seed)
    taxonomy = _taxonomy(rng)
    n = spec.adverts

    derivative = rng.choice(len(taxonomy["make"]), size=n, p=taxonomy["share"])
    make = taxonomy["make"][derivative]
    model = taxonomy["model"][derivative]
    fuel = taxonomy["fuel"][derivative]
    body = taxonomy["body_type"][derivative]
    new_price = taxonomy["new_price"][derivative]
    demand = taxonomy["demand"][derivative]

    listed_offset = rng.integers(0, spec.history_days, size=n)
    listed = np.datetime64(spec.snapshot) - listed_offset.astype("timedelta64[D]")
    listing_year = listed.astype("datetime64[Y]").astype(int) + 1970
    age = np.clip(rng.gamma(shape=2.2, scale=2.6, size=n), 0.2, 25.0)
    registration_year = listing_year - np.floor(age).astype(int)
    mileage = np.round(np.clip(age * rng.normal(8_500, 2_500, size=n), 50, 400_000), -1)

    depreciation = np.exp(-0.16 * age) * np.exp(-0.018 * mileage / 10_000)
    valuation = np.round(new_price * depreciation * rng.lognormal(0.0, 0.05, size=n), 0)
    valuation = np.maximum(valuation, 300.0)
    asking = np.round(valuation * rng.lognormal(0.02, 0.09, size=n) / 5, 0) * 5
    price_position = asking / valuation

    area_index = rng.integers(0, len(POSTCODE_AREAS), size=n)
    area = np.array([POSTCODE_AREAS[i][0] for i in area_index])
    region = np.array([POSTCODE_AREAS[i][1] for i in area_index])
    district = np.char.add(area, rng.integers(1, 30, size=n).astype(str))

    log_days = (
        2.9
        + 3.2 * np.log(price_position)
        + 0.035 * age
        + 0.03 * mileage / 10_000
        - 0.30 * demand
        + np.vectorize(FUEL_EFFECT.__getitem__)(fuel)
        + np.vectorize(REGION_EFFECT.__getitem__)(region)
        + 0.22 * rng.standard_t(4, size=n)
    )
    days = np.clip(np.round(np.exp(log_days)), 1, 365).astype(int)
    sold = listed + days.astype("timedelta64[D]")
    is_sold = sold <= np.datetime64(spec.snapshot)

    advert_id = np.char.add("ADV", np.char.zfill(np.arange(1, n + 1).astype(str), 9))
    vehicle_id = np.char.add("VEH", np.char.zfill(rng.permutation(n).astype(str), 9))

    adverts = pa.table({
        "advert_id": advert_id,
        "vehicle_id": vehicle_id,
        "make": make,
        "model": model,
        "fuel": fuel,
        "body_type": body,
        "registration_year": registration_year.astype(np.int32),
        "mileage": mileage.astype(np.int64),
        "asking_price": asking,
        "postcode_district": district,
        "listed_date": pa.array(listed.astype("datetime64[D]"), pa.date32()),
        "sold_date": pa.array(np.where(is_sold, sold, np.datetime64("NaT")).astype("datetime64[D]"),
                              pa.date32()),
    })
    valuations = pa.table({
        "vehicle_id": vehicle_id,
        "valued_on": pa.array(listed.astype("datetime64[D]"), pa.date32()),
        "valuation": valuation,
    })
    taxonomy_table = pa.table({
        "make": taxonomy["make"],
        "model": taxonomy["model"],
        "fuel": taxonomy["fuel"],
        "body_type": taxonomy["body_type"],
        "new_price": taxonomy["new_price"],
        "demand_score": taxonomy["demand"],
    })
    geography = pa.table({
        "postcode_area": [a for a, _, _, _ in POSTCODE_AREAS],
        "region": [r for _, r, _, _ in POSTCODE_AREAS],
        "latitude": [lat for _, _, lat, _ in POSTCODE_AREAS],
        "longitude": [lon for _, _, _, lon in POSTCODE_AREAS],
    })
    return {"adverts": adverts, "taxonomy": taxonomy_table, "valuations": valuations, "geography": geography}


def write_raw_lake(layout: LakeLayout, spec: MarketSpec) -> dict[str, int]:
    """Simulates the market and (re)writes the raw zone. Returns the row count per dataset."""
    tables = simulate_market(spec)
    counts: dict[str, int] = {}
    for name in RAW_DATASETS:
        folder = layout.raw(name)
        _clear(folder)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(tables[name], folder / "part-00000.parquet")
        counts[name] = tables[name].num_rows
    return counts


def _clear(folder: Path) -> None:
    if folder.exists():
        for f in folder.iterdir():
            f.unlink()


def _taxonomy(rng: np.random.Generator) -> dict[str, np.ndarray]:
    rows: list[tuple[str, str, str, str, float, float]] = []
    for make, list_price, models in MAKES:
        for model in models:
            body = BODY_TYPES[rng.integers(0, len(BODY_TYPES))]
            model_price = list_price * rng.lognormal(0.0, 0.2)
            popularity = rng.lognormal(0.0, 0.8)
            fuels = ("electric",) if make == "Tesla" or model in ("Leaf", "Zoe") else FUELS
            for fuel in fuels:
                premium = {"electric": 1.25, "hybrid": 1.12, "plug_in_hybrid": 1.18}.get(fuel, 1.0)
                rows.append((make, model, fuel, body, round(model_price * premium, -2),
                             popularity * FUEL_SHARE[FUELS.index(fuel)]))
    shares = np.array([r[5] for r in rows])
    demand_raw = np.log(shares) + rng.normal(0.0, 0.3, size=len(rows))
    return {
        "make": np.array([r[0] for r in rows]),
        "model": np.array([r[1] for r in rows]),
        "fuel": np.array([r[2] for r in rows]),
        "body_type": np.array([r[3] for r in rows]),
        "new_price": np.array([r[4] for r in rows]),
        "demand": np.round((demand_raw - demand_raw.mean()) / demand_raw.std(), 4),
        "share": shares / shares.sum(),
    }


