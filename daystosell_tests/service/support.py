"""Test bundles for the scoring service, written with the runtime's bundle writer, and adverts to score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from daystosell_service.golden import GOLDEN_FILE, GoldenRow, write_golden

from .mleap import bundle_writer as bw
from .mleap.bundle_writer import Stage

MODEL_VERSION = "days-to-sell-test-7"

# A pipeline shaped like the real one: index the categories, derive age and price ratio, assemble, regress.
LABELS: dict[str, list[str]] = {
    "make": ["Ford", "Vauxhall", "BMW"],
    "model": ["Fiesta", "Corsa", "3 Series"],
    "fuel": ["Petrol", "Diesel"],
    "body_type": ["Hatchback", "Saloon"],
    "postcode_area": ["LS", "M", "B"],
}
COEFFICIENTS = [0.5, -0.25, 1.5, 2.0, 0.75, 1.2, 0.0001, 30.0, 0.3]
INTERCEPT = 4.0


def regression(features: Sequence[str], coefficients: Sequence[float], intercept: float) -> list[Stage]:
    """Assemble ``features`` and regress on them: the last two stages of every test pipeline."""
    return [
        bw.assembler("assembler", features, "features"),
        Stage(
            "regression",
            "linear_regression",
            {"coefficients": bw.tensor(coefficients), "intercept": bw.double(intercept)},
            {"features": "features"},
            {"prediction": "prediction"},
        ),
    ]


def days_to_sell_pipeline(
    labels: Mapping[str, Sequence[str]] = LABELS,
    coefficients: Sequence[float] = COEFFICIENTS,
    intercept: float = INTERCEPT,
) -> Stage:
    """Index the categories (an unseen one gets the next index), derive age and price ratio, regress."""
    indexers = [
        bw.string_indexer(f"{c}_indexer", c, f"{c}_index", list(v), "keep") for c, v in labels.items()
    ]
    derived = [
        Stage(
            "age",
            "math_binary",
            {"operation": bw.string("sub")},
            {"input_a": "listing_year", "input_b": "registration_year"},
            {"output": "age"},
        ),
        Stage(
            "price_ratio",
            "math_binary",
            {"operation": bw.string("div")},
            {"input_a": "asking_price", "input_b": "valuation"},
            {"output": "price_ratio"},
        ),
    ]
    features = [f"{c}_index" for c in labels] + ["age", "mileage", "price_ratio", "listing_month"]
    return bw.pipeline("pipeline", *indexers, *derived, *regression(features, coefficients, intercept))


def write_bundle(dest: Path, root: Stage | None = None, *, as_zip: bool = False) -> Path:
    """Write ``root`` (by default the days-to-sell pipeline) as a bundle directory or zip at ``dest``."""
    return bw.write_bundle(dest, root or days_to_sell_pipeline(), as_zip=as_zip)


def expected_prediction(advert: Mapping[str, Any]) -> float:
    """The days-to-sell pipeline's prediction worked out by hand, independently of any MLeap runtime."""
    indices = [
        float(LABELS[c].index(advert[c])) if advert[c] in LABELS[c] else float(len(LABELS[c])) for c in LABELS
    ]
    derived = [
        float(advert["listing_year"] - advert["registration_year"]),
        float(advert["mileage"]),
        advert["asking_price"] / advert["valuation"],
        float(advert["listing_month"]),
    ]
    return INTERCEPT + sum(w * x for w, x in zip(COEFFICIENTS, indices + derived, strict=True))


def advert(**overrides: Any) -> dict[str, Any]:
    """A valid advert as a client would send it."""
    body: dict[str, Any] = {
        "advert_id": "ad-1",
        "make": "Ford",
        "model": "Fiesta",
        "fuel": "Petrol",
        "body_type": "Hatchback",
        "postcode_area": "LS",
        "registration_year": 2017,
        "listing_year": 2023,
        "listing_month": 6,
        "mileage": 42_000,
        "asking_price": 8_995,
        "valuation": 9_400,
    }
    body.update(overrides)
    return body


def write_golden_beside(bundle: Path) -> Path:
    """Golden rows for the days-to-sell pipeline in ``golden.jsonl`` beside ``bundle``, where the service looks
    for them by default: known and unseen categories, whole and fractional numbers."""
    adverts = [advert(), advert(make="BMW", mileage=3.5, fuel="Diesel"), advert(make="Lada", postcode_area="ZE")]
    rows = [
        GoldenRow(inputs={k: v for k, v in a.items() if k != "advert_id"}, prediction=expected_prediction(a))
        for a in adverts
    ]
    path = bundle.parent / GOLDEN_FILE
    write_golden(path, rows)
    return path
