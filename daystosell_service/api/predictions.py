"""POST /v1/predictions: days to sell for a batch of adverts, with each input's contribution on request."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import Body, Parameter

from daystosell_service.api.bodies import StrictBodyDTO
from daystosell_service.api.errors import VALIDATION_FAILED
from daystosell_service.api.schemas import (
    Contribution,
    ContributionBaseline,
    ErrorResponse,
    Prediction,
    PredictionRequest,
    PredictionResponse,
)
from daystosell_service.api.scorer import Baseline, ContributionsUnavailableError, Scorer, UnscorableAdvertError

# Each advert's contributions score 2^k coalition rows (1024 for 10 inputs): keep such requests small.
MAX_ADVERTS_WITH_CONTRIBUTIONS = 20
BASELINE_METHOD = (
    "golden rows recorded with the bundle: the lower median of each numeric input, the most frequent value "
    "of each text input"
)
CONTRIBUTIONS_DESCRIPTION = (
    "With `contributions=true`, each prediction also lists every model input's contribution: its exact "
    "Shapley value against a baseline advert (the response's `baseline`, chosen from the "
    + BASELINE_METHOD
    + "), found by scoring all 2^k mixes of the advert and the baseline. Baseline days_to_sell plus the "
    f"contributions is the prediction. At most {MAX_ADVERTS_WITH_CONTRIBUTIONS} adverts a request."
)

PredictionRequestDTO = StrictBodyDTO[PredictionRequest]


async def reject_empty_body(request: Request[Any, Any, Any]) -> None:
    # Litestar skips the DTO for an empty body and would report a missing 'data' parameter instead.
    if not await request.body():
        raise ClientException(detail="Malformed JSON: the request body is empty")


class PredictionController(Controller):
    path = "/v1/predictions"
    tags = ("predictions",)

    @post(
        "/",
        dto=PredictionRequestDTO,
        return_dto=None,
        status_code=200,
        before_request=reject_empty_body,
        summary="Predict days to sell",
        description="One prediction per advert, in the order of the request. " + CONTRIBUTIONS_DESCRIPTION,
        responses={
            400: ResponseSpec(
                ErrorResponse,
                description="Malformed JSON, an advert that fails validation, or more than "
                f"{MAX_ADVERTS_WITH_CONTRIBUTIONS} adverts with contributions",
            ),
            422: ResponseSpec(ErrorResponse, description="Valid adverts that the model refuses to score"),
            501: ResponseSpec(
                ErrorResponse, description="Contributions asked of a bundle that cannot give them (no golden rows)"
            ),
            503: ResponseSpec(ErrorResponse, description="The model is not loaded yet"),
        },
    )
    async def predict(
        self,
        data: Annotated[PredictionRequest, Body()],
        scorer: NamedDependency[Scorer],
        contributions: Annotated[
            bool, Parameter(description="Also give each model input's contribution to each prediction")
        ] = False,
    ) -> PredictionResponse:
        # Scored on the event loop, not a worker thread: the work is CPU-bound, so a thread would not add
        # throughput under the GIL, and the runtime is then never called from two threads at once.
        if contributions:
            return explain_predictions(data, scorer)
        try:
            days = scorer.predict(data.adverts)
        except UnscorableAdvertError as exc:
            raise ClientException(status_code=422, detail=f"Cannot score the adverts: {exc}") from exc
        return PredictionResponse(
            model_version=scorer.model_version,
            bundle_digest=scorer.bundle_digest,
            predictions=[
                Prediction(advert_id=advert.advert_id, days_to_sell=value)
                for advert, value in zip(data.adverts, days, strict=True)
            ],
        )


def explain_predictions(data: PredictionRequest, scorer: Scorer) -> PredictionResponse:
    """Predictions with contributions: the advert's own prediction is its all-advert coalition's, from the
    same columnar call, so baseline + contributions adds up to exactly what is reported."""
    if len(data.adverts) > MAX_ADVERTS_WITH_CONTRIBUTIONS:
        message = (
            f"at most {MAX_ADVERTS_WITH_CONTRIBUTIONS} adverts a request with contributions=true, "
            f"got {len(data.adverts)}"
        )
        raise ValidationException(detail=VALIDATION_FAILED, extra=[{"field": "adverts", "message": message}])
    try:
        explanations = scorer.explain(data.adverts)
    except UnscorableAdvertError as exc:
        raise ClientException(status_code=422, detail=f"Cannot score the adverts: {exc}") from exc
    except ContributionsUnavailableError as exc:
        raise ClientException(status_code=501, detail=f"Contributions are not available: {exc}") from exc
    assert scorer.baseline is not None  # explain() raised otherwise
    predictions = []
    for advert, explanation in zip(data.adverts, explanations, strict=True):
        row = scorer.model_row(advert)
        ranked = sorted(explanation.contributions.items(), key=lambda item: -abs(item[1]))
        predictions.append(
            Prediction(
                advert_id=advert.advert_id,
                days_to_sell=explanation.prediction,
                contributions=[Contribution(feature=c, value=row[c], contribution=v) for c, v in ranked],
            )
        )
    return PredictionResponse(
        model_version=scorer.model_version,
        bundle_digest=scorer.bundle_digest,
        predictions=predictions,
        baseline=baseline_body(scorer.baseline),
    )


def baseline_body(baseline: Baseline) -> ContributionBaseline:
    return ContributionBaseline(
        days_to_sell=baseline.prediction,
        advert=baseline.inputs,
        method=BASELINE_METHOD,
        golden_rows=baseline.golden_rows,
    )
