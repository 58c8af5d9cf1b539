"""One resource per outside system, and the set of them chosen per environment."""


import os
import sys
from pathlib import Path
from typing import Any

from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext, ResourceDependency
from dagster_pyspark import PySparkResource
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from daystosell_assets.lake.layout import LakeLayout

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LAKE_ROOT = PROJECT_ROOT / ".state" / "lake"


class LakeResource(ConfigurableResource):
    """The data lake's root folder."""

    root: str = str(DEFAULT_LAKE_ROOT)

    @property
    def layout(self) -> LakeLayout:
        return LakeLayout(Path(self.root))


def spark_config(master: str = "local[*]", driver_memory: str = "4g",
                 extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Spark settings for this project. Driver memory must be set before the JVM starts, so it
    belongs here rather than on a running session."""
    config: dict[str, Any] = {
        "spark.master": master,
        "spark.driver.memory": driver_memory,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.session.timeZone": "UTC",
    }
    config.update(extra or {})
    return config


class SparkLakeIOManager(ConfigurableIOManager):
    """Stores Spark DataFrames as Parquet and Spark ML models in their own format, in the lake's
    curated zone and models folder. Spark objects cannot be pickled, so they never go through
    Dagster's default IO manager."""

    lake: ResourceDependency[LakeResource]
    pyspark: ResourceDependency[PySparkResource]

    def _path(self, context: OutputContext | InputContext, kind: str) -> Path:
        name = "/".join(context.asset_key.path)
        layout = self.lake.layout
        return layout.model(name) if kind == "model" else layout.curated(name)

    def handle_output(self, context: OutputContext, obj: DataFrame | PipelineModel) -> None:
        if isinstance(obj, PipelineModel):
            path = self._path(context, "model")
            obj.write().overwrite().save(str(path))
            context.add_output_metadata({"path": str(path), "stages": len(obj.stages)})
            return
        path = self._path(context, "table")
        obj.write.mode("overwrite").parquet(str(path))
        rows = self.pyspark.spark_session.read.parquet(str(path)).count()
        context.add_output_metadata({"path": str(path), "rows": rows})

    def load_input(self, context: InputContext) -> DataFrame | PipelineModel:
        model_path = self._path(context, "model")
        if (model_path / "metadata").exists():
            return PipelineModel.load(str(model_path))
        return self.pyspark.spark_session.read.parquet(str(self._path(context, "table")))


def local_resources(lake_root: str | None = None) -> dict[str, Any]:
    """The embedded default: a lake folder on local disk and Spark in local mode."""
    # Python stages (MathBinary) run in Spark's Python workers, which PySpark starts with
    # $PYSPARK_PYTHON: make that this interpreter, so the workers see the same packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    lake = LakeResource(root=lake_root or os.environ.get("DAYSTOSELL_LAKE_ROOT", str(DEFAULT_LAKE_ROOT)))
    pyspark = PySparkResource(spark_config=spark_config(
        master=os.environ.get("DAYSTOSELL_SPARK_MASTER", "local[*]"),
        driver_memory=os.environ.get("DAYSTOSELL_SPARK_DRIVER_MEMORY", "4g")))
    return {
        "lake": lake,
        "pyspark": pyspark,
        "io_manager": SparkLakeIOManager(lake=lake, pyspark=pyspark),
    }
