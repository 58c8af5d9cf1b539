"""The scoring API's HTTP layer: controllers, wire format, error mapping and the loaded model they share."""

from daystosell_service.api.health import HealthController
from daystosell_service.api.model_info import ModelInfoController
from daystosell_service.api.predictions import PredictionController
from daystosell_service.api.sensitivity import SensitivityController

__all__ = ["HealthController", "ModelInfoController", "PredictionController", "SensitivityController"]
