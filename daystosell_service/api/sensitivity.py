"""POST /v1/price-sensitivity: days to sell for one advert across a grid of asking prices around its valuation.

The grid is anchored at the advert's own asking price (every point is it plus or minus whole steps), so each
point answers "what does a cut of £N buy", and all of it is scored in one call to the runtime's columnar path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, get_args

import msgspec
import numpy as np
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import Body

from daystosell_service.api.bodies import StrictBodyDTO
from daystosell_service.api.errors import VALIDATION_FAILED
from daystosell_service.api.predictions import reject_empty_body
from daystosell_service.api.schemas import Advert, ErrorResponse, Price
from daystosell_service.api.scorer import Scorer, UnscorableAdvertError

PRICE_COLUMN = "asking_price"
DEFAULT_FROM_FRACTION = 0.7
DEFAULT_TO_FRACTION = 1.3
DEFAULT_STEP = 250.0
MAX_POINTS = 501
# Float slack when deciding whether a range end falls on a grid point.
_EPS = 1e-9


def _price_limits() -> tuple[float, float]:
    [meta] = [m for m in get_args(Price)[1:] if isinstance(m, msgspec.Meta)]
    low = meta.ge if meta.ge is not None else meta.gt
    return float(low or 0.0), float(meta.le if meta.le is not None else math.inf)


# Grid prices stay within what an advert may ask (schemas.Price), so the model never extrapolates further.
MIN_PRICE, MAX_PRICE = _price_limits()

Fraction = Annotated[float, msgspec.Meta(gt=0, le=10, description="A fraction of the advert's valuation")]
Step = Annotated[float, msgspec.Meta(ge=1, le=1_000_000, description="Pounds between grid points")]


class PriceGrid(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The asking prices to try: each end of the range as a fraction of the valuation or in pounds (not both;
    by default 70% to 130% of the valuation), every ``step`` pounds from the advert's asking price."""

    from_fraction: Fraction | None = None
    to_fraction: Fraction | None = None
    from_price: Price | None = None
    to_price: Price | None = None
    # Default £250, widened to a multiple of £250 when the range would need more than MAX_POINTS points.
    step: Step | None = None


class SensitivityRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    advert: Advert
    grid: PriceGrid | None = None


class SensitivityPoint(msgspec.Struct, frozen=True):
    asking_price: float
    price_change: float  # asking_price minus the advert's own
    price_position: float  # asking_price / valuation
    days_to_sell: float
    days_change: float  # days_to_sell minus the advert's own prediction


class GridUsed(msgspec.Struct, frozen=True):
    from_price: float
    to_price: float
    step: float
    points: int


class SensitivityResponse(msgspec.Struct, frozen=True):
    model_version: str
    bundle_digest: str
    advert_id: str | None
    asking_price: float
    valuation: float
    price_position: float
    days_to_sell: float  # at the advert's own asking price
    grid: GridUsed
    # Cheapest first.
    points: list[SensitivityPoint]


class GridError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Grid:
    from_price: float
    to_price: float
    step: float
    prices: np.ndarray


def _end(grid: PriceGrid, which: str, valuation: float, default_fraction: float) -> float:
    fraction, price = getattr(grid, f"{which}_fraction"), getattr(grid, f"{which}_price")
    if fraction is not None and price is not None:
        raise GridError(f"grid.{which}_price", f"give {which}_price or {which}_fraction, not both")
    if price is not None:
        return float(price)
    return (default_fraction if fraction is None else fraction) * valuation


def _steps(low: float, high: float, anchor: float, step: float) -> tuple[int, int]:
    """The whole numbers i with low <= anchor + i * step <= high (to float slack), as (first, last)."""
    slack = _EPS * max(1.0, abs(anchor) / step)
    return math.ceil((low - anchor) / step - slack), math.floor((high - anchor) / step + slack)


def build_grid(advert: Advert, grid: PriceGrid | None) -> Grid:
    """The prices to score, cheapest first; ``GridError`` names the field of a grid that cannot be used."""
    grid = grid or PriceGrid()
    low = max(_end(grid, "from", advert.valuation, DEFAULT_FROM_FRACTION), MIN_PRICE)
    high = min(_end(grid, "to", advert.valuation, DEFAULT_TO_FRACTION), MAX_PRICE)
    if low > high:
        field = "grid.to_price" if grid.to_price is not None else "grid.to_fraction"
        raise GridError(field, f"the range ends at £{high:,.2f}, below where it starts (£{low:,.2f})")
    step = DEFAULT_STEP if grid.step is None else float(grid.step)
    first, last = _steps(low, high, advert.asking_price, step)
    if last - first + 1 > MAX_POINTS:
        if grid.step is not None:
            raise GridError(
                "grid.step",
                f"£{step:,.2f} steps from £{low:,.2f} to £{high:,.2f} make {last - first + 1} prices, at most "
                f"{MAX_POINTS}: use a larger step or a narrower range",
            )
        # The default step only: widen it to the smallest multiple of itself that fits.
        step = DEFAULT_STEP * math.ceil((high - low) / (DEFAULT_STEP * (MAX_POINTS - 1)))
        first, last = _steps(low, high, advert.asking_price, step)
    if last < first:
        raise GridError(
            "grid.step",
            f"no price from £{low:,.2f} to £{high:,.2f} is the asking price plus or minus whole £{step:,.2f} "
            "steps: use a smaller step or a wider range",
        )
    prices = advert.asking_price + np.arange(first, last + 1, dtype=np.float64) * step
    return Grid(from_price=low, to_price=high, step=step, prices=prices)


class SensitivityController(Controller):
    path = "/v1/price-sensitivity"
    tags = ("predictions",)

    @post(
        "/",
        dto=StrictBodyDTO[SensitivityRequest],
        return_dto=None,
        status_code=200,
        before_request=reject_empty_body,
        summary="Days to sell across a range of asking prices",
        description=(
            "For one advert, days to sell at each asking price of a grid around its valuation: by default "
            f"{DEFAULT_FROM_FRACTION:.0%} to {DEFAULT_TO_FRACTION:.0%} of the valuation every £{DEFAULT_STEP:.0f} "
            "(widened when that would exceed the limit), each end settable as `*_fraction` of the valuation or "
            f"`*_price` in pounds. Grid prices are the advert's asking price plus or minus whole steps, at most "
            f"{MAX_POINTS} of them, from £{MIN_PRICE:,.0f} to £{MAX_PRICE:,.0f}. Everything else about the advert "
            "stays as sent; the grid is scored in one vectorised call."
        ),
        responses={
            400: ResponseSpec(ErrorResponse, description="Malformed JSON, an invalid advert, or an unusable grid"),
            422: ResponseSpec(ErrorResponse, description="A valid advert that the model refuses to score"),
            501: ResponseSpec(ErrorResponse, description="The model does not read the asking price"),
            503: ResponseSpec(ErrorResponse, description="The model is not loaded yet"),
        },
    )
    async def price_sensitivity(
        self, data: Annotated[SensitivityRequest, Body()], scorer: NamedDependency[Scorer]
    ) -> SensitivityResponse:
        advert = data.advert
        if PRICE_COLUMN not in scorer.input_schema:
            raise ClientException(status_code=501, detail=f"The model does not read {PRICE_COLUMN}")
        try:
            grid = build_grid(advert, data.grid)
        except GridError as exc:
            raise ValidationException(
                detail=VALIDATION_FAILED, extra=[{"field": exc.field, "message": str(exc)}]
            ) from exc
        # Row 0 is the advert as sent, the rest the grid: one columnar call for all of them.
        rows = len(grid.prices) + 1
        row = scorer.model_row(advert)
        columns: dict[str, np.ndarray] = {
            column: np.full(rows, value, dtype=np.float64 if kind == "double" else object)
            for (column, value), kind in zip(row.items(), scorer.input_schema.values(), strict=True)
        }
        columns[PRICE_COLUMN] = np.concatenate(([advert.asking_price], grid.prices))
        try:
            days = scorer.predict_columns(columns, rows)
        except UnscorableAdvertError as exc:
            raise ClientException(status_code=422, detail=f"Cannot score the advert: {exc}") from exc
        own = float(days[0])
        return SensitivityResponse(
            model_version=scorer.model_version,
            bundle_digest=scorer.bundle_digest,
            advert_id=advert.advert_id,
            asking_price=advert.asking_price,
            valuation=advert.valuation,
            price_position=advert.asking_price / advert.valuation,
            days_to_sell=own,
            grid=GridUsed(from_price=grid.from_price, to_price=grid.to_price, step=grid.step, points=rows - 1),
            points=[
                SensitivityPoint(
                    asking_price=price,
                    price_change=price - advert.asking_price,
                    price_position=price / advert.valuation,
                    days_to_sell=value,
                    days_change=value - own,
                )
                for price, value in zip(grid.prices.tolist(), days[1:].tolist(), strict=True)
            ],
        )
