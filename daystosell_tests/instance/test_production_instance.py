"""The production instance (deploy/dagster/dagster.yaml) against a real PostgreSQL: its storage holds a whole
training run (run, materialisations, check results) where a second instance object, and PostgreSQL's own
tables, find it.

PostgreSQL comes from scripts/postgres.py on loopback; nothing is mocked. The Kubernetes run launcher and the
S3 compute logs are swapped out (no cluster, no bucket here); storage and the run coordinator are the file's own.
"""

from __future__ import annotations

import importlib
import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from daystosell_tests.conftest import TRAINING_RUN_CONFIG, load_script, seed_lake

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_YAML = ROOT / "deploy" / "dagster" / "dagster.yaml"
GRAPH_ASSETS = ("adverts", "taxonomy", "valuations", "geography", "training_set", "fitted_model", "mleap_bundle")
LOG_BUCKET = "daystosell-dagster-logs"


def production_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PRODUCTION_YAML.read_text())
    return config


def config_for_tests(home: Path) -> dict[str, Any]:
    """The production file with its storage and run coordinator untouched. The K8sRunLauncher cannot be built
    here: it loads the in-cluster Kubernetes configuration in its constructor, and there is no cluster. The
    S3 compute log manager would upload each step's output to a bucket this machine has no S3 for."""
    config = production_config()
    config["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    config["compute_logs"] = {"module": "dagster._core.storage.local_compute_log_manager",
                              "class": "LocalComputeLogManager", "config": {"base_dir": str(home / "logs")}}
    return config


@contextmanager
def open_instance(home: Path) -> Iterator[Any]:
    """A new DagsterInstance read from ``home/dagster.yaml``, as `dagster-daemon` reads DAGSTER_HOME."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


# --- scripts/postgres.py on its own ---------------------------------------------------------------------------


def _query(pg: Any, sql: str, *params: object) -> list[tuple[Any, ...]]:
    import psycopg2

    connection = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password,
                                  dbname=pg.db_name)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def test_postgres_script_status_stop_and_reuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    postgres = load_script("postgres")
    data_dir = tmp_path / "pg"
    with postgres.running_postgres(data_dir) as pg:
        assert postgres.main(["status", "--data", str(data_dir)]) == 0
        assert json.loads(capsys.readouterr().out)["running"] is True
        _query(pg, "CREATE TABLE kept (value text)")
        _query(pg, "INSERT INTO kept VALUES (%s)", "from the first start")
        version_file = pg.cluster_dir / "PG_VERSION"
        created = version_file.stat().st_mtime_ns
        # A second server on the same cluster is refused, not started beside the first.
        with pytest.raises(postgres.PostgresServerError, match="already runs"):
            postgres.start_postgres(data_dir)
        assert postgres.main(["stop", "--data", str(data_dir)]) == 0
        assert not postgres.alive(pg.pid)
        assert postgres.main(["status", "--data", str(data_dir)]) == 1
        capsys.readouterr()
    # Started again: the same cluster (not re-initialised), its data and its password.
    with postgres.running_postgres(data_dir) as again:
        assert again.password == pg.password
        assert version_file.stat().st_mtime_ns == created
        assert _query(again, "SELECT value FROM kept") == [("from the first start",)]
    assert not postgres.alive(again.pid)


# --- the production configuration ---------------------------------------------------------------------------


def configured_class(section: dict[str, Any]) -> type:
    cls: type = getattr(importlib.import_module(section["module"]), section["class"])
    return cls


def test_production_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every section validates against its class's schema, the launcher's and compute logs' included (built
    nowhere in this module)."""
    import kubernetes
    from dagster._config import process_config, resolve_to_config_type
    from dagster._core.instance.config import dagster_instance_config_schema
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.models import k8s_model_from_dict

    for variable in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(variable, "x")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.setenv("DAYSTOSELL_DAGSTER_LOG_BUCKET", LOG_BUCKET)
    config = production_config()
    checked = process_config(resolve_to_config_type(dagster_instance_config_schema()), config)
    assert checked.success, checked.errors
    for section, expected in (("run_launcher", K8sRunLauncher), ("compute_logs", S3ComputeLogManager)):
        assert configured_class(config[section]) is expected
        checked = process_config(resolve_to_config_type(expected.config_type()), config[section]["config"])
        assert checked.success, (section, checked.errors)
    launcher = config["run_launcher"]["config"]
    assert launcher["load_incluster_config"] is True
    # The run pods' default container parses as a Kubernetes V1Container, as the launcher will build it.
    container = k8s_model_from_dict(kubernetes.client.V1Container,
                                    {"name": "run", **launcher["run_k8s_config"]["container_config"]})
    assert container.resources.requests and container.resources.limits
    assert config["telemetry"] == {"enabled": False}


# --- a training run stored in PostgreSQL --------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRun:
    pg: Any  # scripts/postgres.py's Postgres
    home: Path
    run_id: str


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Iterator[StoredRun]:
    """The training graph materialised into the production instance on a fresh PostgreSQL."""
    from dagster import materialize

    from daystosell_assets.definitions import training_graph
    from daystosell_assets.resources import lake_resources

    postgres = load_script("postgres")
    base = tmp_path_factory.mktemp("production")
    home = base / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config_for_tests(home), sort_keys=False))
    with postgres.running_postgres(base / "pg") as pg, pytest.MonkeyPatch.context() as env:
        # The file reads its connection from these, when the instance is built.
        for name, value in pg.dagster_env().items():
            env.setenv(name, value)
        env.setenv("DAGSTER_HOME", str(home))
        with open_instance(home) as instance:
            assert_production_instance(instance)
            lake_root = seed_lake(spark, base / "lake")
            result = materialize(training_graph(), resources=lake_resources(str(lake_root)), instance=instance,
                                 run_config=TRAINING_RUN_CONFIG, raise_on_error=False)
            assert result.success, "materialising the training graph failed: see the Dagster log above"
        yield StoredRun(pg=pg, home=home, run_id=result.run_id)


def assert_production_instance(instance: Any) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    coordinator = instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == production_config()["run_coordinator"]["config"]["max_concurrent_runs"]
    assert [(limit["key"], limit["value"], limit["limit"]) for limit in queue.tag_concurrency_limits] \
        == [("daystosell/spark", "heavy", 1)]


def test_instance_is_postgres_with_the_spark_queue(stored_run: StoredRun) -> None:
    written = yaml.safe_load((stored_run.home / "dagster.yaml").read_text())
    production = production_config()
    assert {key: written[key] for key in ("storage", "run_coordinator")} \
        == {key: production[key] for key in ("storage", "run_coordinator")}
    with open_instance(stored_run.home) as instance:
        assert_production_instance(instance)


def test_second_instance_reads_the_run_and_materialisations(stored_run: StoredRun) -> None:
    from dagster import AssetKey, DagsterRunStatus

    with open_instance(stored_run.home) as instance:
        run = instance.get_run_by_id(stored_run.run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
        for name in GRAPH_ASSETS:
            event = instance.get_latest_materialization_event(AssetKey(name))
            assert event is not None, f"no materialisation of {name} in PostgreSQL"
            assert event.run_id == stored_run.run_id


def test_second_instance_reads_passed_checks(stored_run: StoredRun) -> None:
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    from daystosell_assets.definitions import training_graph

    check_keys = [key for definition in training_graph() for key in (getattr(definition, "check_keys", None) or [])]
    checked_assets: dict[str, list[str]] = defaultdict(list)
    with open_instance(stored_run.home) as instance:
        for key in check_keys:
            [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
            assert record.run_id == stored_run.run_id
            assert record.status == AssetCheckExecutionRecordStatus.SUCCEEDED, key
            assert record.event.asset_check_evaluation.passed, key
            checked_assets[key.asset_key.to_user_string()].append(key.name)
    # Every asset of the graph but the bundle carries checks (the fitted model's is its gate).
    assert set(checked_assets) == set(GRAPH_ASSETS) - {"mleap_bundle"}


def test_rows_are_in_postgresql_tables(stored_run: StoredRun) -> None:
    pg = stored_run.pg
    assert _query(pg, "SELECT status FROM runs WHERE run_id = %s", stored_run.run_id) == [("SUCCESS",)]
    [(events,)] = _query(pg, "SELECT count(*) FROM event_logs WHERE run_id = %s", stored_run.run_id)
    assert events > 50
    materialised = {row[0] for row in _query(
        pg, "SELECT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        stored_run.run_id)}
    assert {f'["{name}"]' for name in GRAPH_ASSETS} <= materialised
