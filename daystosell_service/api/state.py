"""What the request handlers share: the model once it is loaded, and nothing until then."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.exceptions import ServiceUnavailableException

from daystosell_service.api.scorer import Scorer

NOT_READY = "The model is not loaded yet"


@dataclass
class ServiceState:
    # Set once by the app's lifespan; handlers only read it.
    scorer: Scorer | None = None

    @property
    def ready(self) -> bool:
        return self.scorer is not None

    def require_scorer(self) -> Scorer:
        """The loaded model; a 503 (not a 500) while it is loading, so clients and probes retry."""
        if self.scorer is None:
            raise ServiceUnavailableException(detail=NOT_READY)
        return self.scorer
