"""Blocking checks: bad data fails its check, names what broke, and nothing downstream materialises."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance

from daystosell_assets.lake.layout import LakeLayout
from daystosell_tests.conftest import materialize_graph, seed_lake

DOWNSTREAM = ("training_set", "fitted_model", "mleap_bundle")


def _corrupt_adverts(lake: Path) -> None:
    """Blanks the make of the first 5 adverts and makes the price of the next 3 negative."""
    [part] = LakeLayout(lake).raw("adverts").glob("*.parquet")
    table = pq.read_table(part)
    n = table.num_rows
    index = pa.array(range(n))
    make = pc.if_else(pc.less(index, 5), pa.scalar(None, pa.string()), table["make"])
    price = pc.if_else(pc.and_(pc.greater_equal(index, 5), pc.less(index, 8)),
                       pc.negate(table["asking_price"]), table["asking_price"])
    table = table.set_column(table.schema.get_field_index("make"), "make", make)
    table = table.set_column(table.schema.get_field_index("asking_price"), "asking_price", price)
    pq.write_table(table, part)


@pytest.mark.spark
def test_bad_adverts_fail_their_check_and_halt_everything_downstream(tmp_path: Path) -> None:
    lake = seed_lake(tmp_path / "lake", adverts=1_500, seed=9)
    _corrupt_adverts(lake)
    with DagsterInstance.ephemeral() as instance:
        result = materialize_graph(lake, instance)

    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations["adverts_schema"]
    assert not failed.passed
    assert set(failed.metadata["failed_columns"].value) >= {"make", "asking_price"}
    assert "non-nullable column 'make' contains null" in failed.metadata["errors"].value
    # The other sources are fine: their checks pass, so the failure is pinned on adverts.
    assert all(evaluations[f"{name}_schema"].passed for name in ("taxonomy", "valuations", "geography"))
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
                    for m in [m.event_specific_data.materialization]}
    assert "adverts" in materialized
    assert not materialized & set(DOWNSTREAM)
