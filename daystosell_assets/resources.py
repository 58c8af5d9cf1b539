"""One resource per outside system, and the set of them chosen per environment."""


import os
import sys
from pathlib import Path
from typing import Any

from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    InputContext,
    MetadataValue,
    OutputContext,
    ResourceDependency,
)
from dagster_aws.s3 import S3Resource
from dagster_pyspark import LazyPySparkResource, PySparkResource
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.utils import is_remote

from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.lake.objects import LakeObjects, LocalObjects, S3Objects, fetch_dir
from daystosell_assets.lake.s3 import DEFAULT_REGION, configure_s3a, s3_client, s3a_jars

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LAKE_ROOT = PROJECT_ROOT / ".state" / "lake"


class LakeResource(ConfigurableResource):
    """The data lake: a local folder, or ``s3://bucket/prefix`` with dagster-aws's ``S3Resource`` for the
    objects that are not DataFrames (Spark reaches the same place through S3A)."""

    root: str = str(DEFAULT_LAKE_ROOT)
    s3: S3Resource | None = None

    @property
    def layout(self) -> LakeLayout:
        return LakeLayout(self.root)

    @property
    def objects(self) -> LakeObjects:
        if not self.layout.on_s3:
            return LocalObjects(Path(self.root))
        if self.s3 is None:
            raise ValueError(f"the lake is at {self.root}: give LakeResource an S3Resource (set "
                             "DAYSTOSELL_S3_ENDPOINT_URL and AWS credentials in the environment)")
        return S3Objects.at(s3_client(self.s3), self.root)

    def fetch(self, location: str, into: Path) -> Path:
        """A local copy of a folder of this lake (``location`` as recorded in metadata): the folder itself
        when the lake is local."""
        return fetch_dir(location, into, s3_client(self.s3) if self.s3 is not None else None)

    def spark(self, pyspark: PySparkResource | LazyPySparkResource) -> SparkSession:
        """The Spark session, able to reach this lake (S3A settings apply to a session already running)."""
        session = pyspark.spark_session
        # A Spark Connect server reaches S3 with its own settings, given when it starts.
        if self.layout.on_s3 and self.s3 is not None and not is_remote():
            configure_s3a(session, endpoint_url=self.s3.endpoint_url, access_key=self.s3.aws_access_key_id,
                          secret_key=self.s3.aws_secret_access_key, region=self.s3.region_name or DEFAULT_REGION)
        return session


def spark_config(master: str = "local[*]", driver_memory: str = "4g",
                 extra: dict[str, str] | None = None, remote: str | None = None) -> dict[str, Any]:
    """Spark settings for this project. Driver memory must be set before the JVM starts, so it
    belongs here rather than on a running session.

    With ``remote`` (a Spark Connect URL, ``sc://host:port``) the session is a client of that server: pyspark
    refuses a master beside it, and the JVM settings belong to whoever starts the server."""
    if remote:
        return {"spark.remote": remote, "spark.sql.shuffle.partitions": "8", "spark.sql.session.timeZone": "UTC",
                **(extra or {})}
    config: dict[str, Any] = {
        "spark.master": master,
        "spark.driver.memory": driver_memory,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.session.timeZone": "UTC",
        # Spark compiles a stage into one Java method; the simulator's exceed HotSpot's 8 KB limit for JIT
        # compilation and would otherwise run interpreted, about 4x slower.
        "spark.driver.extraJavaOptions": "-XX:-DontCompileHugeMethods",
    }
    # The S3A connector (``s3a://`` lakes) only loads from jars listed when the JVM starts, and a session
    # is process-wide: list them whenever they are installed; a local lake never loads them.
    if jars := s3a_jars():
        config["spark.jars"] = ",".join(str(jar) for jar in jars)
    config.update(extra or {})
    return config


def spark_session(config: dict[str, Any] | None = None) -> SparkSession:
    """The process's Spark session with this project's settings (``PySparkResource`` gets the same one)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in (config or spark_config()).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


class SparkLakeIOManager(ConfigurableIOManager):
    """Stores Spark DataFrames as Parquet and Spark ML models in their own format, in the lake's
    curated zone and models folder. Spark objects cannot be pickled, so they never go through
    Dagster's default IO manager."""

    lake: ResourceDependency[LakeResource]
    # Lazy: every run initialises the IO manager, and the release chain, which moves no Spark data,
    # should not start a JVM for it (6 s a run). Same settings, so the same session once started.
    pyspark: ResourceDependency[LazyPySparkResource]

    def handle_output(self, context: OutputContext, obj: DataFrame | PipelineModel) -> None:
        name = "/".join(context.asset_key.path)
        layout = self.lake.layout
        spark = self.lake.spark(self.pyspark)
        if isinstance(obj, PipelineModel):
            path = layout.model(name)
            obj.write().overwrite().save(path)
            context.add_output_metadata({"path": MetadataValue.path(path), "stages": len(obj.stages)})
            return
        path = layout.curated(name)
        obj.write.mode("overwrite").parquet(path)
        rows = spark.read.parquet(path).count()
        context.add_output_metadata({"path": MetadataValue.path(path), "rows": rows})

    def load_input(self, context: InputContext) -> DataFrame | PipelineModel:
        name = "/".join(context.asset_key.path)
        spark = self.lake.spark(self.pyspark)
        if context.dagster_type.typing_type is PipelineModel:
            return PipelineModel.load(self.lake.layout.model(name))
        return spark.read.parquet(self.lake.layout.curated(name))


def lake_resources(lake_root: str | None = None, s3: S3Resource | None = None) -> dict[str, Any]:
    """The lake, Spark and the IO manager between them, chosen by environment: the lake root comes from
    ``DAYSTOSELL_LAKE_ROOT`` (a folder, the embedded default, or ``s3://bucket/prefix``); Spark from
    ``DAYSTOSELL_SPARK_MASTER`` (a master URL) or ``DAYSTOSELL_SPARK_REMOTE`` (Spark Connect), with
    ``DAYSTOSELL_SPARK_DRIVER_MEMORY`` and ``DAYSTOSELL_SPARK_SHUFFLE_PARTITIONS`` over the project's defaults;
    on S3 the endpoint from ``DAYSTOSELL_S3_ENDPOINT_URL`` (empty for AWS itself) and credentials from the
    standard AWS variables, read by boto3 and S3A themselves so they never sit in configuration."""
    # Python stages (MathBinary) run in Spark's Python workers, which PySpark starts with
    # $PYSPARK_PYTHON: make that this interpreter, so the workers see the same packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = lake_root or os.environ.get("DAYSTOSELL_LAKE_ROOT") or str(DEFAULT_LAKE_ROOT)
    if s3 is None and LakeLayout(root).on_s3:
        s3 = S3Resource(endpoint_url=os.environ.get("DAYSTOSELL_S3_ENDPOINT_URL") or None,
                        region_name=os.environ.get("AWS_REGION", DEFAULT_REGION))
    lake = LakeResource(root=root, s3=s3)
    settings = spark_config(
        master=os.environ.get("DAYSTOSELL_SPARK_MASTER", "local[*]"),
        driver_memory=os.environ.get("DAYSTOSELL_SPARK_DRIVER_MEMORY", "4g"),
        remote=os.environ.get("DAYSTOSELL_SPARK_REMOTE") or None,
        extra={"spark.sql.shuffle.partitions": partitions}
        if (partitions := os.environ.get("DAYSTOSELL_SPARK_SHUFFLE_PARTITIONS")) else None)
    pyspark = PySparkResource(spark_config=settings)
    return {
        "lake": lake,
        "pyspark": pyspark,
        "io_manager": SparkLakeIOManager(lake=lake, pyspark=LazyPySparkResource(spark_config=settings)),
    }
