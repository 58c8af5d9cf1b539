"""The columnar path (``transform_columns``): a project-shaped pipeline over many chunks gives the row
path's results bit for bit; inputs of every accepted form convert as the row path converts them, and
bad ones fail naming the row and column; dropped rows keep the index straight; tree layouts agree."""

from __future__ import annotations

import math
import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from daystosell_service.mleap import MleapModel, TransformError, batch, kernels, load_bundle
from daystosell_service.mleap.build_kernels import BuildError, build
from daystosell_service.mleap.ops.trees import PerfectTrees, TreeArrays, walk

from . import bundle_writer as bw
from .test_compiled_trees import random_forest, random_row

MAKES = ["ford", "vauxhall", "bmw", "audi"]
AREAS = [f"A{i}" for i in range(30)]


def random_json_tree(rng: random.Random, features: int, depth: int) -> bw.Json:
    if depth == 0 or rng.random() < 0.15:
        return bw.leaf(rng.uniform(-20.0, 20.0))
    feature = rng.randrange(features)
    left, right = random_json_tree(rng, features, depth - 1), random_json_tree(rng, features, depth - 1)
    if feature < features - 3 and rng.random() < 0.7:  # one-hot slots: Spark's categorical splits
        return bw.categorical(feature, [1.0], rng.random() < 0.5, left, right)
    return bw.continuous(feature, rng.uniform(-2.0, 40.0), left, right)


def project_like(tmp_path: Path, handle_invalid: str = "keep", trees: int = 12) -> MleapModel:
    """String indexers -> one-hot -> math -> assembler -> GBT, as the project's own pipeline."""
    rng = random.Random(handle_invalid)
    features = len(MAKES) + len(AREAS) + 3
    gbt = bw.Stage("gbt", "gbt_regression",
                   {"num_features": bw.long(features),
                    "tree_weights": bw.double_list([1.0] + [0.1] * (trees - 1)),
                    "trees": bw.string_list([f"tree{i}" for i in range(trees)])},
                   {"features": "features"}, {"prediction": "prediction"},
                   trees=[random_json_tree(rng, features, 5) for _ in range(trees)])
    root = bw.pipeline(
        "p",
        bw.string_indexer("si_make", "make", "make_index", MAKES, handle_invalid),
        bw.string_indexer("si_area", "area", "area_index", AREAS, handle_invalid),
        bw.Stage("ohe", "one_hot_encoder",
                 {"category_sizes": bw.int_list([len(MAKES) + 1, len(AREAS) + 1]), "drop_last": bw.boolean(True),
                  "handle_invalid": bw.string("keep")},
                 {"input0": "make_index", "input1": "area_index"}, {"output0": "make_hot", "output1": "area_hot"}),
        bw.Stage("ratio", "math_binary", {"operation": bw.string("div")},
                 {"input_a": "price", "input_b": "valuation"}, {"output": "ratio"}),
        bw.Stage("age", "math_binary", {"operation": bw.string("sub")},
                 {"input_a": "year", "input_b": "registered"}, {"output": "age"}),
        bw.assembler("va", ["make_hot", "area_hot", "ratio", "age", "mileage"], "features",
                     {"make_hot": len(MAKES), "area_hot": len(AREAS)}),
        gbt,
    )
    return load_bundle(bw.write_bundle(tmp_path / f"project-{handle_invalid}", root))


def random_columns(rng: np.random.Generator, n: int) -> dict[str, Any]:
    makes = np.array([*MAKES, "tesla", None], dtype=object)[rng.integers(0, len(MAKES) + 2, n)]
    areas = np.array([*AREAS, "ZZ"], dtype=object)[rng.integers(0, len(AREAS) + 1, n)]
    price = rng.uniform(500, 40_000, n)
    price[rng.random(n) < 0.01] = 0.0
    valuation = rng.uniform(500, 40_000, n)
    valuation[rng.random(n) < 0.01] = 0.0  # x/0 and 0/0 in the ratio
    return {"make": makes, "area": areas, "price": price, "valuation": valuation,
            "year": rng.integers(2015, 2027, n), "registered": rng.integers(2000, 2027, n).astype(np.float32),
            "mileage": np.where(rng.random(n) < 0.01, np.nan, rng.uniform(0, 200_000, n))}


def rows_of(columns: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*(np.asarray(columns[c]).tolist()
                                                                      for c in names), strict=True)]


def test_project_shaped_pipeline_matches_the_row_path_over_many_chunks(tmp_path: Path) -> None:
    model = project_like(tmp_path)
    columns = random_columns(np.random.default_rng(1), 3 * batch.CHUNK_ROWS + 17)
    scored = model.transform_columns(columns)
    expected = model.transform(rows_of(columns))
    assert len(scored) == len(expected)
    assert scored.index.tolist() == list(range(len(expected)))
    for column, values in scored.columns.items():
        want = np.array([r[column] for r in expected], dtype=values.dtype)
        assert want.shape == values.shape, column
        assert same_bits(values, want), column


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit (the sign of zero included), NaN wherever NaN (whatever its sign bit)."""
    if a.dtype != np.float64:
        return bool(np.array_equal(a, b))
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a.view(np.int64)[~nan], b.view(np.int64)[~nan]))


def test_skip_drops_rows_across_chunks_and_the_index_says_which(tmp_path: Path) -> None:
    model = project_like(tmp_path, "skip")
    columns = random_columns(np.random.default_rng(2), 2 * batch.CHUNK_ROWS + 5)
    scored = model.transform_columns(columns, select=["prediction"])
    makes, areas = columns["make"], columns["area"]
    kept = [i for i in range(len(makes)) if makes[i] in MAKES and areas[i] in AREAS]
    assert scored.index.tolist() == kept
    expected = model.transform(rows_of(columns), select=["prediction"])
    assert scored.columns["prediction"].tolist() == [r["prediction"] for r in expected]


def test_errors_name_the_callers_row_after_rows_were_dropped(tmp_path: Path) -> None:
    model = project_like(tmp_path, "skip")
    n = batch.CHUNK_ROWS + 10
    columns = {"make": ["tesla"] * 5 + ["ford"] * (n - 5), "area": ["A1"] * n, "price": [1.0] * n,
               "valuation": [2.0] * n, "year": [2020.0] * n, "registered": [2019.0] * n, "mileage": [5.0] * n}
    columns["area"][batch.CHUNK_ROWS + 3] = 7  # type: ignore[call-overload]
    with pytest.raises(TransformError, match=rf"^row {batch.CHUNK_ROWS + 3}: column 'area' must be a string"):
        model.transform_columns(columns)


@pytest.mark.parametrize(
    ("column", "values", "problem"),
    [
        ("price", [1.0, None], "row 1: column 'price' must be a number, found null"),
        ("price", [1.0, "3"], "row 1: column 'price' must be a number, found str"),
        ("price", [True, 1.0], "row 0: column 'price' must be a number, found bool"),
        ("price", np.array([True, False]), "column 'price' must be numbers, found bool"),
        ("price", np.array(["1", "2"]), "column 'price' must be numbers, found <U1"),
        ("price", np.ones((2, 2)), "column 'price': expected one value per row, found an array of shape"),
        ("price", [1.0, 10**400], "row 1: column 'price': 1000000000"),
        ("make", ["ford", 3], "row 1: column 'make' must be a string or null, found int"),
        ("make", np.array([1, 2]), "column 'make' must be strings, found int64"),
        ("year", [2020.0], "column 'year' has 1 rows, but"),
    ],
)
def test_bad_columns_fail_naming_row_and_column(tmp_path: Path, column: str, values: Any, problem: str) -> None:
    model = project_like(tmp_path)
    columns: dict[str, Any] = {"make": ["ford", "bmw"], "area": ["A1", "A2"], "price": [1.0, 2.0],
                               "valuation": [2.0, 2.0], "year": [2020.0, 2021.0], "registered": [2019, 2019],
                               "mileage": [5.0, 6.0]}
    columns[column] = values
    with pytest.raises(TransformError) as caught:
        model.transform_columns(columns)
    assert str(caught.value).startswith(problem) or problem in str(caught.value)


def test_missing_column_is_named(tmp_path: Path) -> None:
    model = project_like(tmp_path)
    with pytest.raises(TransformError, match="missing column 'mileage'"):
        model.transform_columns({"make": ["ford"], "area": ["A1"], "price": [1.0], "valuation": [2.0],
                                 "year": [2020.0], "registered": [2019.0]})


def test_accepted_forms_convert_as_the_row_path_does(tmp_path: Path) -> None:
    model = project_like(tmp_path)
    base = {"make": ["ford", None], "area": ["A1", "B"], "price": [1500, 2500], "valuation": [2000.0, 2000.0],
            "year": [2020, 2021], "registered": [2019, 2010], "mileage": [5.0, 6.5]}
    want = [r["prediction"] for r in model.transform(rows_of(base), select=["prediction"])]
    forms: dict[str, Any] = {
        "make": np.array(["ford", None], dtype=object), "area": np.array(["A1", "B"]),  # numpy unicode
        "price": np.array([1500, 2500], dtype=np.int32), "valuation": np.array([2000.0, 2000.0], dtype=np.float32),
        "year": (2020, 2021), "registered": np.array([2019, 2010], dtype=np.uint16), "mileage": [5.0, 6.5],
    }
    got = model.transform_columns(forms, select=["prediction"]).columns["prediction"].tolist()
    assert got == want


def test_zero_rows(tmp_path: Path) -> None:
    model = project_like(tmp_path)
    empty: dict[str, Any] = {c: [] for c in model.input_schema}
    scored = model.transform_columns(empty)
    assert len(scored) == 0
    assert scored.columns["prediction"].shape == (0,)
    assert scored.columns["features"].shape[0] == 0


def test_results_are_not_shared_between_calls_or_threads(tmp_path: Path) -> None:
    model = project_like(tmp_path)
    first_columns = random_columns(np.random.default_rng(3), 100)
    first = model.transform_columns(first_columns, select=["features", "prediction"])
    kept = first.columns["features"].copy()
    model.transform_columns(random_columns(np.random.default_rng(4), 100), select=["features"])
    assert np.array_equal(first.columns["features"], kept, equal_nan=True)  # not a reused work array

    inputs = [random_columns(np.random.default_rng(10 + t), 3000) for t in range(4)]
    expected = [model.transform_columns(c, select=["prediction"]).columns["prediction"] for c in inputs]
    results: list[Any] = [None] * 4

    def score(t: int) -> None:
        for _ in range(5):
            results[t] = model.transform_columns(inputs[t], select=["prediction"]).columns["prediction"]

    threads = [threading.Thread(target=score, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected, strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("seed", range(12))
def test_tree_layouts_reach_the_leaves_the_table_walk_reaches(seed: int) -> None:
    rng = random.Random(seed)
    flat = random_forest(rng, rng.randrange(1, 9), num_features=6, max_depth=rng.choice([1, 3, 6]))
    rows = [random_row(rng, 6) for _ in range(150)]
    x = np.array(rows, dtype=np.float64)
    want = np.array([walk(flat, row) for row in rows])
    assert np.array_equal(TreeArrays.of(flat).leaves(x), want)
    perfect = PerfectTrees.of(flat)
    if perfect is not None:  # only when no categorical split lists several categories
        assert np.array_equal(perfect.leaves(x), want)
    single = [n for n in flat.nodes if n[4] and len(n[1]) > 1]  # type: ignore[arg-type]
    assert (perfect is None) == bool(single)


def test_perfect_layout_pads_shallow_leaves_and_handles_special_values() -> None:
    rng = random.Random(99)
    flat = random_forest(rng, 40, num_features=6, max_depth=4)
    flat.nodes[:] = [(f, (frozenset(list(t)[:1]) if c else t), left, right, c)  # type: ignore[arg-type]
                     for f, t, left, right, c in flat.nodes]
    perfect = PerfectTrees.of(flat)
    assert perfect is not None
    specials = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.0, 2.0, 3.0]
    x = np.array([[rng.choice(specials) for _ in range(6)] for _ in range(400)])
    assert np.array_equal(perfect.leaves(x), np.array([walk(flat, row) for row in x.tolist()]))


def test_a_missing_kernel_library_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kernels, "LIBRARY", tmp_path / "_kernels.so")
    kernels._library.cache_clear()
    try:
        with pytest.raises(kernels.KernelsMissingError, match=r"is not built.*build_kernels"):
            kernels.fused_dot(np.zeros((1, 1), dtype=np.int64), np.zeros(1), np.zeros(1))
    finally:
        monkeypatch.undo()
        kernels._library.cache_clear()


def test_kernel_builds_are_atomic_and_report_the_compilers_words(tmp_path: Path) -> None:
    library = build(tmp_path / "k.so")
    assert library.read_bytes()[:4] == b"\x7fELF"
    broken = tmp_path / "broken.c"
    broken.write_text("int x = ;\n")
    with pytest.raises(BuildError, match=r"failed:\n.*broken\.c"):
        build(library, source=broken)
    assert library.read_bytes()[:4] == b"\x7fELF"  # the previous library is still there
    assert not list(tmp_path.glob("*.partial"))


def test_kernels_refuse_arrays_of_the_wrong_layout() -> None:
    reached = np.zeros((4, 2), dtype=np.int64)
    with pytest.raises(TypeError, match="C-contiguous float64"):
        kernels.fused_dot(reached, np.zeros(3, dtype=np.float32), np.zeros(3))
    with pytest.raises(TypeError, match="C-contiguous int64"):
        kernels.fused_dot(np.zeros((2, 4), dtype=np.int64).T, np.zeros(3), np.zeros(3))
