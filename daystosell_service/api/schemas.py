"""The wire format of the scoring API, as msgspec Structs.

The Advert's constraints are the service's contract with callers: anything outside them is a 400, so the
model is never asked to extrapolate from a value no real advert could have.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

MAX_ADVERTS_PER_REQUEST = 1000

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Year = Annotated[int, msgspec.Meta(ge=1950, le=2100)]
Month = Annotated[int, msgspec.Meta(ge=1, le=12)]
Mileage = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
# From 1, not just above 0: a price of 5e-324 is no real advert, and dividing by it sends a price ratio to
# infinity, which no model can turn into a number of days.
Price = Annotated[float, msgspec.Meta(ge=1, le=10_000_000)]


class Advert(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One used-car advert. Every required field is a model input of the same name."""

    make: Text
    model: Text
    fuel: Text
    body_type: Text
    postcode_area: Text  # e.g. "LS"
    registration_year: Year
    listing_year: Year
    listing_month: Month  # 1 = January
    mileage: Mileage
    asking_price: Price
    valuation: Price
    # Optional, so it is not a model input: echoed back so callers can match predictions to adverts.
    advert_id: Text | None = None


class PredictionRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    adverts: Annotated[list[Advert], msgspec.Meta(min_length=1, max_length=MAX_ADVERTS_PER_REQUEST)]


class Contribution(msgspec.Struct, frozen=True):
    feature: str  # a model input, i.e. an Advert field
    value: str | float  # the advert's value of it
    # Days this input adds to (or, negative, takes off) the baseline's prediction: its exact Shapley value.
    contribution: float


class ContributionBaseline(msgspec.Struct, frozen=True):
    """The advert contributions are measured against: baseline days_to_sell + sum(contributions) is the
    advert's days_to_sell."""

    days_to_sell: float
    advert: dict[str, str | float]
    method: str
    golden_rows: int


class Prediction(msgspec.Struct, frozen=True, omit_defaults=True):
    advert_id: str | None
    days_to_sell: float
    # Only with ?contributions=true: one per model input, largest effect first.
    contributions: list[Contribution] | None = None


class PredictionResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    model_version: str
    bundle_digest: str
    # In the order of the request's adverts.
    predictions: list[Prediction]
    # Only with ?contributions=true.
    baseline: ContributionBaseline | None = None


class FieldError(msgspec.Struct, frozen=True):
    # A path into the request body such as "adverts[0].mileage"; "$" is the body as a whole.
    field: str
    message: str


class ErrorResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    status_code: int
    detail: str
    errors: list[FieldError] | None = None


class Liveness(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    model_version: str
    bundle_digest: str


def model_feature_types() -> dict[str, str]:
    """The Advert's model inputs and the MLeap type each is passed as: text "string", numbers "double"."""
    info = msgspec.inspect.type_info(Advert)
    assert isinstance(info, msgspec.inspect.StructType)
    features: dict[str, str] = {}
    for field in info.fields:
        if not field.required:
            continue
        kind = field.type.type if isinstance(field.type, msgspec.inspect.Metadata) else field.type
        if isinstance(kind, msgspec.inspect.StrType):
            features[field.name] = "string"
        elif isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            features[field.name] = "double"
        else:  # pragma: no cover - guards a future field of a type the runtime cannot take
            raise TypeError(f"Advert.{field.name} has a type no MLeap input column can take: {kind}")
    return features
