"""Compiling a pipeline into a plan (checked at load) and running it (checked per row)."""

from __future__ import annotations

import pytest

from daystosell_service.mleap import BundleError, TransformError, supported_ops

from . import bundle_writer as bw
from .conftest import Build


def sub(name: str, a: str, b: str, out: str) -> bw.Stage:
    return bw.Stage(name, "math_binary", {"operation": bw.string("sub")}, {"input_a": a, "input_b": b},
                    {"output": out})


def lr(features: str, coefficients: list[float], out: str = "prediction") -> bw.Stage:
    return bw.Stage("lr", "linear_regression", {"coefficients": bw.tensor(coefficients),
                                                "intercept": bw.double(0.5)},
                    {"features": features}, {"prediction": out})


# -- load-time checks ----------------------------------------------------------------------------------


def test_an_unknown_op_fails_at_load_naming_op_and_stage(build: Build) -> None:
    root = bw.pipeline("p", bw.pipeline("inner", bw.Stage("pca_7", "pca", {}, {"input": "x"},
                                                          {"output": "y"})))
    with pytest.raises(BundleError, match=r"^root/inner.node/pca_7.node: stage 'pca_7' uses op "
                                          r"'pca', which this runtime does not support"):
        build(root)


def test_supported_ops_lists_the_implemented_ops() -> None:
    assert {"string_indexer", "one_hot_encoder", "vector_assembler", "math_binary", "math_unary",
            "linear_regression", "decision_tree_regression", "random_forest_regression",
            "gbt_regression", "standard_scaler", "min_max_scaler", "max_abs_scaler", "imputer", "interaction",
            "generalized_linear_regression", "logistic_regression", "decision_tree_classifier",
            "random_forest_classifier", "gbt_classifier"} <= set(supported_ops())


def test_a_vector_nothing_produces_is_a_load_error(build: Build) -> None:
    with pytest.raises(BundleError, match=r"root/lr.node: stage 'lr' \(op 'linear_regression'\): port 'features' "
                                          r"reads column 'features', which no earlier stage produces"):
        build(bw.pipeline("p", lr("features", [1.0])))


def test_stage_order_matters(build: Build) -> None:
    # The assembler that makes 'f' comes after the regression that reads it.
    with pytest.raises(BundleError, match=r"stage 'lr'.*reads column 'f', which no earlier stage produces"):
        build(bw.pipeline("p", lr("f", [1.0]), bw.assembler("va", ["x"], "f")))


def test_two_stages_writing_one_column_is_a_load_error(build: Build) -> None:
    with pytest.raises(BundleError, match=r"stage 'second'.*writes column 'd', which already exists "
                                          r"\(stage 'first'\)"):
        build(bw.pipeline("p", sub("first", "a", "b", "d"), sub("second", "a", "b", "d")))


def test_writing_over_a_pipeline_input_is_a_load_error(build: Build) -> None:
    with pytest.raises(BundleError, match=r"stage 'second'.*writes column 'a', which already exists \(an input of "
                                          r"the pipeline\)"):
        build(bw.pipeline("p", sub("first", "a", "b", "d"), sub("second", "d", "b", "a")))


def test_reading_a_column_as_the_wrong_type_is_a_load_error(build: Build) -> None:
    # 'd' is a double made by a MathBinary; a StringIndexer needs a string.
    with pytest.raises(BundleError, match=r"stage 'si'.*port 'input' expects a string column but 'd' is a double "
                                          r"\(stage 'first'\)"):
        build(bw.pipeline("p", sub("first", "a", "b", "d"), bw.string_indexer("si", "d", "d_idx", ["x"])))
    with pytest.raises(BundleError, match=r"stage 'first'.*expects a double column but 'a' is a string"):
        build(bw.pipeline("p", bw.string_indexer("si", "a", "a_idx", ["x"]), sub("first", "a", "b", "d")))


def test_a_stage_reading_one_column_twice_is_refused_as_mleap_does(build: Build) -> None:
    with pytest.raises(BundleError, match=r"ports 'input_a' and 'input_b' both read column 'a'"):
        build(bw.pipeline("p", sub("square", "a", "a", "d")))


def test_missing_and_unexpected_ports_are_load_errors(build: Build) -> None:
    no_features = bw.Stage("lr", "linear_regression", {"coefficients": bw.tensor([1.0]),
                                                       "intercept": bw.double(1.0)}, {}, {"prediction": "p"})
    with pytest.raises(BundleError, match=r"^root/node.json: stage 'lr'.*missing input port 'features'"):
        build(no_features)
    extra = bw.Stage("mu", "math_unary", {"operation": bw.string("abs")}, {"input": "x", "other": "y"},
                     {"output": "z"})
    with pytest.raises(BundleError, match=r"stage 'mu'.*unexpected input port 'other'"):
        build(extra)


def test_numbered_ports_must_be_contiguous(build: Build) -> None:
    va = bw.Stage("va", "vector_assembler", {"input_shapes": bw.shapes(bw.scalar_shape(), bw.scalar_shape())},
                  {"input0": "a", "input2": "b"}, {"output": "f"})
    with pytest.raises(BundleError, match=r"stage 'va'.*input ports must be input0..input1, found \['input0', "
                                          r"'input2'\]"):
        build(va)


# -- transform: rows in, rows out -----------------------------------------------------------------------


def pipeline() -> bw.Stage:
    return bw.pipeline("p",
                       bw.string_indexer("si", "make", "make_idx", ["audi", "bmw"], "keep"),
                       sub("age", "year", "reg", "age"),
                       bw.assembler("va", ["make_idx", "age"], "f"),
                       lr("f", [10.0, 2.0]))


def test_each_row_gets_every_output_column(build: Build) -> None:
    model = build(pipeline())
    rows = [{"make": "bmw", "year": 2024.0, "reg": 2019.0, "extra": "kept"},
            {"make": "fiat", "year": 2024.0, "reg": 2024.0}]
    assert model.transform(rows) == [
        {"make": "bmw", "year": 2024.0, "reg": 2019.0, "extra": "kept",
         "make_idx": 1.0, "age": 5.0, "f": [1.0, 5.0], "prediction": 20.5},  # 10*1 + 2*5 + 0.5
        {"make": "fiat", "year": 2024.0, "reg": 2024.0,
         "make_idx": 2.0, "age": 0.0, "f": [2.0, 0.0], "prediction": 20.5},  # 10*2 + 0 + 0.5
    ]
    assert rows[0] == {"make": "bmw", "year": 2024.0, "reg": 2019.0, "extra": "kept"}  # not mutated


def test_no_rows_give_no_rows(build: Build) -> None:
    assert build(pipeline()).transform([]) == []


def test_select_adds_only_the_selected_columns(build: Build) -> None:
    model = build(pipeline())
    row = {"make": "audi", "year": 2020.0, "reg": 2019.0}
    assert model.transform([row], select=["prediction"]) == [{**row, "prediction": 2.5}]  # 10*0 + 2*1 + 0.5
    assert model.transform([row], select=["age", "make_idx"]) == [{**row, "age": 1.0, "make_idx": 0.0}]


def test_select_runs_only_what_the_selection_needs(build: Build) -> None:
    model = build(pipeline())
    # 'age' does not need 'make': a row without it is fine, and its error would not be raised.
    assert model.transform([{"year": 2020.0, "reg": 2010.0}], select=["age"]) == [
        {"year": 2020.0, "reg": 2010.0, "age": 10.0}]
    with pytest.raises(TransformError, match="row 0: missing column 'make'"):
        model.transform([{"year": 2020.0, "reg": 2010.0}])


def test_select_still_runs_stages_that_drop_rows(build: Build) -> None:
    model = build(bw.pipeline("p", bw.string_indexer("si", "make", "make_idx", ["audi"], "skip"),
                              sub("age", "year", "reg", "age")))
    rows = [{"make": "audi", "year": 2.0, "reg": 1.0}, {"make": "fiat", "year": 5.0, "reg": 1.0}]
    assert model.transform(rows, select=["age"]) == [{"make": "audi", "year": 2.0, "reg": 1.0, "age": 1.0}]


def test_select_rejects_unknown_columns_and_plain_strings(build: Build) -> None:
    model = build(pipeline())
    with pytest.raises(ValueError, match=r"select names columns the pipeline does not produce: \['price'\]"):
        model.transform([], select=["price"])
    with pytest.raises(ValueError, match=r"does not produce: \['make'\]"):
        model.transform([], select=["make"])  # an input, not an output
    with pytest.raises(TypeError, match="select must be a list of column names"):
        model.transform([], select="prediction")


def test_a_missing_input_column_names_row_and_column(build: Build) -> None:
    model = build(pipeline())
    with pytest.raises(TransformError, match=r"^row 1: missing column 'reg'$"):
        model.transform([{"make": "bmw", "year": 1.0, "reg": 0.0}, {"make": "bmw", "year": 1.0}])


@pytest.mark.parametrize(
    ("value", "found"),
    [("2019", "str"), (None, "null"), (True, "bool"), ([1.0], "list")],
)
def test_numeric_inputs_must_be_numbers(build: Build, value: object, found: str) -> None:
    with pytest.raises(TransformError, match=rf"^row 0: column 'reg' must be a number, found {found}$"):
        build(pipeline()).transform([{"make": "bmw", "year": 2024.0, "reg": value}])


def test_integers_are_accepted_as_doubles(build: Build) -> None:
    [row] = build(pipeline()).transform([{"make": "bmw", "year": 2024, "reg": 2019}])
    assert row["age"] == 5.0 and isinstance(row["age"], float)
    assert row["prediction"] == 20.5


def test_string_inputs_must_be_strings_or_null(build: Build) -> None:
    model = build(pipeline())
    with pytest.raises(TransformError, match=r"^row 0: column 'make' must be a string or null, found int$"):
        model.transform([{"make": 7, "year": 1.0, "reg": 0.0}])
    # null is a value the indexer handles (keep -> the invalid bucket)
    assert model.transform([{"make": None, "year": 1.0, "reg": 0.0}], select=["make_idx"])[0]["make_idx"] == 2.0


def test_rows_must_be_mappings(build: Build) -> None:
    with pytest.raises(TransformError, match="row 0: expected a mapping of column -> value, found list"):
        build(pipeline()).transform([["bmw", 2024.0, 2019.0]])  # type: ignore[list-item]


def test_a_stage_error_names_the_row_stage_and_column(build: Build) -> None:
    model = build(bw.pipeline("p", bw.string_indexer("si", "make", "make_idx", ["audi"], "error")))
    with pytest.raises(TransformError, match=r"^row 1: stage 'si' \(string_indexer\): column 'make': unseen label "
                                             r"'fiat'"):
        model.transform([{"make": "audi"}, {"make": "fiat"}])
