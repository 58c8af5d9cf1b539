"""The corrupt-data matrix: for each kind of fault in the raw adverts feed, the graph is materialised on a lake
with that fault and must stop at the check that names it: nothing downstream materialises and no image
build is requested."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import AssetSelection, DagsterInstance, build_sensor_context, materialize

from daystosell_assets.definitions import training_graph
from daystosell_assets.defs.release import mleap_bundle_sensor
from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.resources import lake_resources
from daystosell_tests.conftest import materialize_graph, seed_lake

pytestmark = pytest.mark.spark

DOWNSTREAM = {"training_set", "fitted_model", "mleap_bundle"}
SOURCES = ("adverts", "taxonomy", "valuations", "geography")
Fault = Callable[[pa.Table], pa.Table]


def _rows(table: pa.Table, start: int, stop: int) -> pa.Array:
    index = pa.array(range(table.num_rows))
    return pc.and_(pc.greater_equal(index, start), pc.less(index, stop))


def _replace(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def _set(column: str, start: int, stop: int, value: Any) -> Fault:
    def fault(table: pa.Table) -> pa.Table:
        kind = table.schema.field(column).type
        return _replace(table, column, pc.if_else(_rows(table, start, stop), pa.scalar(value, kind), table[column]))
    return fault


def _negative_prices(table: pa.Table) -> pa.Table:
    price = table["asking_price"]
    return _replace(table, "asking_price", pc.if_else(_rows(table, 5, 8), pc.negate(price), price))


def _mileage_as_text(table: pa.Table) -> pa.Table:
    return _replace(table, "mileage", pc.cast(table["mileage"], pa.string()))


def _duplicate_ids(table: pa.Table) -> pa.Table:
    # Rows 10-12 take the ids of rows 0-2: two different adverts under one id, not a re-delivery.
    ids = table["advert_id"].to_pylist()
    ids[10:13] = ids[0:3]
    return _replace(table, "advert_id", pa.array(ids, pa.string()))


def _orphans(table: pa.Table) -> pa.Table:
    return _set("model", 0, 4, "601")(_set("make", 0, 4, "Trabant")(table))


@dataclass(frozen=True)
class Case:
    fault: Fault
    check: str
    # Each must appear in the failing check's metadata: the column and the rule (or the problem) broken.
    names: tuple[str, ...]
    failing_rows: int | None = None


CASES: dict[str, Case] = {
    "null key": Case(_set("advert_id", 0, 5, None), "adverts_schema", ("advert_id", "not_nullable"), 5),
    "negative price": Case(_negative_prices, "adverts_schema", ("asking_price", "greater_than_or_equal_to"), 3),
    "absurd price": Case(_set("asking_price", 20, 22, 45_000_000.0), "adverts_schema",
                         ("asking_price", "less_than_or_equal_to"), 2),
    "dropped column": Case(lambda t: t.drop_columns(["mileage"]), "adverts_schema",
                           ("mileage", "column_present", "is missing")),
    "changed type": Case(_mileage_as_text, "adverts_schema", ("mileage", "dtype", "is string, expected bigint")),
    "unknown fuel": Case(_set("fuel", 30, 34, "hydrogen"), "adverts_schema", ("fuel", "isin"), 4),
    "duplicated ids": Case(_duplicate_ids, "adverts_schema", ("advert_id", "unique"), 6),
    "orphan make/model": Case(_orphans, "adverts_references", ("make, model, fuel", "taxonomy", "Trabant"), 4),
    "empty dataset": Case(lambda t: t.slice(0, 0), "adverts_row_count", ("is empty",)),
}


@pytest.fixture(scope="module")
def clean_lake(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_lake(spark, tmp_path_factory.mktemp("clean") / "lake", adverts=1_500, seed=11)


def _lake_with(clean: Path, dest: Path, fault: Fault) -> Path:
    shutil.copytree(clean, dest)
    folder = Path(LakeLayout(str(dest)).raw("adverts"))
    # Spark keeps its own schema in the Parquet footer; a feed written by another tool carries none.
    table = fault(pq.read_table(folder).replace_schema_metadata(None))
    shutil.rmtree(folder)
    folder.mkdir()
    pq.write_table(table, folder / "part-00000.parquet")
    return dest


def _assert_halted(result: Any, instance: DagsterInstance, case: Case) -> None:
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations[case.check]
    assert not failed.passed
    text = " ".join(str(v.value) for v in failed.metadata.values())
    for name in case.names:
        assert name in text, f"{case.check} metadata does not name {name!r}: {text[:2000]}"
    if case.failing_rows is not None:
        assert failed.metadata["failing_rows"].value == case.failing_rows
        [first, *_] = failed.metadata["offending_rows"].value
        assert first["sample"], "a failing rule shows the rows that broke it"
    # The other sources are sound: the failure is pinned on adverts.
    assert all(evaluations[f"{name}_schema"].passed for name in SOURCES[1:])
    materialized = {e.event_specific_data.materialization.asset_key.to_user_string()
                    for e in result.get_asset_materialization_events()}
    assert "adverts" in materialized
    assert not materialized & DOWNSTREAM
    # No bundle, so the release sensor has nothing to build.
    requests = mleap_bundle_sensor.evaluate_tick(build_sensor_context(instance=instance)).run_requests
    assert not requests


@pytest.mark.parametrize("name", list(CASES))
def test_a_fault_in_the_feed_fails_its_check_and_halts_everything_downstream(
        name: str, clean_lake: Path, tmp_path: Path) -> None:
    case = CASES[name]
    lake = _lake_with(clean_lake, tmp_path / "lake", case.fault)
    with DagsterInstance.ephemeral() as instance:
        result = materialize_graph(lake, instance)
        _assert_halted(result, instance, case)


def test_a_halved_feed_fails_the_row_count_check(clean_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(clean_lake, lake)
    sources = training_graph()
    with DagsterInstance.ephemeral() as instance:
        first = materialize(sources, selection=AssetSelection.assets(*SOURCES), instance=instance,
                            resources=lake_resources(str(lake)), raise_on_error=False)
        assert first.success
        halved = _lake_with(clean_lake, tmp_path / "halved", lambda t: t.slice(0, int(t.num_rows * 0.45)))
        shutil.rmtree(lake)
        shutil.move(halved, lake)
        result = materialize_graph(lake, instance)
        dropped = Case(lambda t: t, "adverts_row_count", ("dropped from", "previous materialisation"))
        _assert_halted(result, instance, dropped)


def test_exact_redeliveries_are_collapsed_not_failed(clean_lake: Path, tmp_path: Path) -> None:
    lake = _lake_with(clean_lake, tmp_path / "lake", lambda t: pa.concat_tables([t, t.slice(0, 25)]))
    sources = training_graph()
    with DagsterInstance.ephemeral() as instance:
        result = materialize(sources, selection=AssetSelection.assets(*SOURCES), instance=instance,
                             resources=lake_resources(str(lake)), raise_on_error=False)
    assert result.success
    [adverts] = result.asset_materializations_for_node("adverts")
    assert int(cast(int, adverts.metadata["exact_duplicates_dropped"].value)) >= 25
    assert all(e.passed for e in result.get_asset_check_evaluations())
