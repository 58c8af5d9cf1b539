"""One Spark session for the conformance suite (small: 2 cores, 2 GB)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Any:
    from pyspark.sql import SparkSession

    from daystosell_assets.resources import spark_config

    builder = SparkSession.builder.appName("daystosell-conformance")
    for key, value in spark_config(master="local[2]", driver_memory="2g").items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
