"""The scoring API's HTTP layer: controllers, wire format, error mapping and the loaded model they share."""

from daystosell_service.api.health import HealthController
from daystosell_service.api.predictions import PredictionController

__all__ = ["HealthController", "PredictionController"]
