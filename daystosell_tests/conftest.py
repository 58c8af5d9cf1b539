"""Fixtures shared across the suite: a seeded lake and one full materialisation of the asset graph."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# Spark binds to the machine's hostname otherwise; its Python workers must use this interpreter.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

# Small but real: enough sold adverts for a GBT and 1,000 golden rows, quick enough for CI.
TEST_ADVERTS = 4_000
TRAINING_RUN_CONFIG: dict[str, Any] = {
    "ops": {"fitted_model": {"config": {"gbt_max_iter": 12, "gbt_max_depth": 4, "forest_num_trees": 12,
                                        "tuning_folds": 2}}},
}


def load_script(name: str) -> ModuleType:
    """A module of scripts/ (not a package: its files run as commands), loaded by path once and registered
    under its own name first, as dataclasses need."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class GraphRun:
    lake_root: Path
    instance: Any  # DagsterInstance
    result: Any  # ExecuteInProcessResult
    bundle_dir: Path
    bundle_path: Path
    metadata: dict[str, Any]


def seed_lake(spark: Any, root: Path, adverts: int = TEST_ADVERTS, seed: int = 5) -> Path:
    from daystosell_assets.lake.layout import LakeLayout
    from daystosell_assets.lake.simulator import MarketSpec, write_raw_lake

    write_raw_lake(spark, LakeLayout(str(root)), MarketSpec(adverts=adverts, seed=seed))
    return root


def materialize_graph(lake_root: Path, instance: Any) -> Any:
    """Materialises every asset and check from the lake to the bundle against ``lake_root``."""
    from dagster import materialize

    from daystosell_assets.definitions import training_graph
    from daystosell_assets.resources import lake_resources

    return materialize(training_graph(),
                       resources=lake_resources(str(lake_root)), instance=instance,
                       run_config=TRAINING_RUN_CONFIG, raise_on_error=False)


@pytest.fixture(scope="session")
def spark() -> Any:
    """The suite's one Spark session, built with the project's settings; ``PySparkResource`` reuses it."""
    from daystosell_assets.resources import spark_session

    return spark_session()


@pytest.fixture(scope="session")
def dagster_instance() -> Iterator[Any]:
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(scope="session")
def graph_run(tmp_path_factory: pytest.TempPathFactory, dagster_instance: Any, spark: Any) -> GraphRun:
    """The whole asset graph, materialised once for the session on a seeded lake."""
    lake_root = seed_lake(spark, tmp_path_factory.mktemp("lake"))
    result = materialize_graph(lake_root, dagster_instance)
    assert result.success, "materialising the asset graph failed: see the Dagster log above"
    [materialization] = result.asset_materializations_for_node("mleap_bundle")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    return GraphRun(lake_root=lake_root, instance=dagster_instance, result=result,
                    bundle_dir=Path(metadata["bundle_dir"]), bundle_path=Path(metadata["bundle_path"]),
                    metadata=metadata)
