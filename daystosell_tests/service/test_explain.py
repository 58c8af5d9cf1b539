"""Exact Shapley values (daystosell_service.explain) against the properties that define them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from daystosell_service.explain import (
    MAX_INPUTS,
    choose_baseline,
    coalition_bits,
    coalition_columns,
    explain,
    shapley_from_values,
)

Columns = dict[str, np.ndarray]
RowFunction = Callable[[Mapping[str, Any]], float]


def vectorised(f: RowFunction) -> Callable[[Columns], np.ndarray]:
    """A ``predict`` for explain() from a function of one row."""

    def predict(columns: Columns) -> np.ndarray:
        names = list(columns)
        n = len(columns[names[0]])
        return np.array([f({c: columns[c][i] for c in names}) for i in range(n)])

    return predict


def shapley_by_permutations(f: RowFunction, x: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, float]:
    """The textbook definition, independently of explain(): each input's marginal contribution averaged over
    every order in which the inputs can switch from the baseline's value to the instance's."""
    columns = list(x)
    totals = dict.fromkeys(columns, 0.0)
    orders = list(itertools.permutations(columns))
    for order in orders:
        row = dict(base)
        before = f(row)
        for c in order:
            row[c] = x[c]
            after = f(row)
            totals[c] += after - before
            before = after
    return {c: t / len(orders) for c, t in totals.items()}


def nonlinear(row: Mapping[str, Any]) -> float:
    # Interactions, a threshold and a categorical lookup: nothing additive about it.
    bonus = {"Ford": 3.0, "BMW": -2.0}.get(str(row["make"]), 0.5)
    return float(row["a"] * row["b"] + max(row["c"], 2.0) * bonus + math.sin(row["d"]) + (row["a"] > 1) * row["d"])


INSTANCE = {"a": 2.0, "b": -3.0, "c": 5.0, "d": 0.7, "make": "Ford"}
BASE = {"a": 0.5, "b": 1.0, "c": 1.0, "d": 2.0, "make": "BMW"}


def test_matches_the_permutation_definition_for_a_nonlinear_model() -> None:
    [result] = explain(vectorised(nonlinear), [INSTANCE], BASE, list(INSTANCE))

    assert result.contributions == pytest.approx(shapley_by_permutations(nonlinear, INSTANCE, BASE), rel=1e-12)


def test_efficiency_contributions_add_up_from_the_baseline_to_the_prediction() -> None:
    [result] = explain(vectorised(nonlinear), [INSTANCE], BASE, list(INSTANCE))

    assert result.base_value == nonlinear(BASE)
    assert result.prediction == nonlinear(INSTANCE)
    total = result.base_value + sum(result.contributions.values())
    assert total == pytest.approx(result.prediction, rel=1e-9)


def test_linear_model_gets_coefficient_times_distance_from_the_baseline() -> None:
    rng = np.random.default_rng(7)
    columns = [f"x{j}" for j in range(MAX_INPUTS)]
    coefficients = dict(zip(columns, rng.normal(size=len(columns)), strict=True))
    base = {c: float(v) for c, v in zip(columns, rng.normal(size=len(columns)), strict=True)}
    instances = [{c: float(v) for c, v in zip(columns, rng.normal(size=len(columns)), strict=True)} for _ in range(3)]

    def linear(row: Mapping[str, Any]) -> float:
        return 4.0 + sum(coefficients[c] * row[c] for c in columns)

    def predict(cols: Columns) -> np.ndarray:
        return 4.0 + sum(coefficients[c] * cols[c] for c in columns)

    results = explain(predict, instances, base, columns)

    for x, result in zip(instances, results, strict=True):
        expected = {c: coefficients[c] * (x[c] - base[c]) for c in columns}
        assert result.contributions == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert result.prediction == pytest.approx(linear(x), rel=1e-12)


def test_symmetric_inputs_get_equal_contributions() -> None:
    def f(row: Mapping[str, Any]) -> float:
        return float(row["a"] * row["b"] + row["a"] + row["b"] + 3 * row["c"] ** 2)

    x, base = {"a": 3.0, "b": 3.0, "c": 1.0}, {"a": 1.0, "b": 1.0, "c": 0.0}
    [result] = explain(vectorised(f), [x], base, list(x))

    assert result.contributions["a"] == result.contributions["b"]
    # The a*b interaction, 9 - 1, split evenly, plus each one's own term.
    assert result.contributions["a"] == pytest.approx(4.0 + 2.0)
    assert result.contributions["c"] == pytest.approx(3.0)


def test_pure_interaction_is_split_evenly() -> None:
    [result] = explain(vectorised(lambda r: float(r["a"] * r["b"])), [{"a": 2.0, "b": 5.0}], {"a": 0.0, "b": 0.0},
                       ["a", "b"])

    assert result.contributions == {"a": 5.0, "b": 5.0}


def test_an_input_the_model_ignores_gets_exactly_zero() -> None:
    def ignores_c(row: Mapping[str, Any]) -> float:
        return nonlinear({**row, "c": 1.0})

    x = {**INSTANCE, "c": 123.0}
    [result] = explain(vectorised(ignores_c), [x], BASE, list(x))

    assert result.contributions["c"] == 0.0


def test_an_input_at_its_baseline_value_gets_exactly_zero() -> None:
    x = {**INSTANCE, "d": BASE["d"]}
    [result] = explain(vectorised(nonlinear), [x], BASE, list(x))

    assert result.contributions["d"] == 0.0


def test_linearity_in_the_model() -> None:
    def other(row: Mapping[str, Any]) -> float:
        return float(row["a"] ** 2 - row["b"] * row["c"] + (row["make"] == "Ford"))

    def combined(row: Mapping[str, Any]) -> float:
        return 2.0 * nonlinear(row) + 3.0 * other(row)

    columns = list(INSTANCE)
    [first] = explain(vectorised(nonlinear), [INSTANCE], BASE, columns)
    [second] = explain(vectorised(other), [INSTANCE], BASE, columns)
    [both] = explain(vectorised(combined), [INSTANCE], BASE, columns)

    expected = {c: 2.0 * first.contributions[c] + 3.0 * second.contributions[c] for c in columns}
    assert both.contributions == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_every_instance_is_scored_in_one_call_in_coalition_order() -> None:
    calls: list[int] = []

    def predict(columns: Columns) -> np.ndarray:
        calls.append(len(columns["a"]))
        return np.asarray(columns["a"] * 10 + columns["b"], dtype=np.float64)

    instances = [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}, {"a": 5.0, "b": 6.0}]
    results = explain(predict, instances, {"a": 0.0, "b": 0.0}, ["a", "b"])

    assert calls == [3 * 4]
    assert [r.contributions for r in results] == [{"a": 10.0, "b": 2.0}, {"a": 30.0, "b": 4.0}, {"a": 50.0, "b": 6.0}]
    assert [r.base_value for r in results] == [0.0, 0.0, 0.0]


def test_coalition_rows_take_each_input_from_the_instance_when_its_bit_is_set() -> None:
    columns = coalition_columns([{"x": 1.0, "s": "mine"}], {"x": 0.0, "s": "base"}, ["x", "s"])

    # Coalition m is row m; bit 0 is x, bit 1 is s.
    assert columns["x"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert columns["s"].tolist() == ["base", "base", "mine", "mine"]
    assert columns["x"].dtype == np.float64
    assert columns["s"].dtype == object
    assert coalition_bits(2).tolist() == [[0, 0], [1, 0], [0, 1], [1, 1]]


def test_weights_make_each_value_a_weighted_average_of_marginals() -> None:
    # v(S) = 1 for the grand coalition only: every input is pivotal in 1/k of the orders.
    for k in (1, 3, 6):
        values = np.zeros(1 << k)
        values[-1] = 1.0
        assert shapley_from_values(values, k) == pytest.approx(np.full(k, 1.0 / k), rel=1e-12)


def test_too_many_inputs_are_refused() -> None:
    columns = [f"x{j}" for j in range(MAX_INPUTS + 1)]
    row = dict.fromkeys(columns, 0.0)

    with pytest.raises(ValueError, match=f"1 to {MAX_INPUTS} inputs"):
        explain(lambda cols: np.zeros(1), [row], row, columns)


def test_shapley_from_values_checks_the_number_of_coalitions() -> None:
    with pytest.raises(ValueError, match="expected 8 coalition values"):
        shapley_from_values(np.zeros(4), 3)


def test_baseline_is_the_lower_median_and_the_most_frequent_category() -> None:
    rows: Sequence[dict[str, Any]] = [
        {"year": 2015, "price": 1000.0, "make": "Ford"},
        {"year": 2018, "price": 3000.0, "make": "BMW"},
        {"year": 2016, "price": None, "make": "BMW"},
        {"year": 2020, "price": 2000.0, "make": "Ford"},
        {"year": 2017, "price": 4000.0, "make": "Audi"},
        {"year": 2019, "price": 5000.0, "make": None},
    ]

    baseline = choose_baseline(rows, {"year": "double", "price": "double", "make": "string"})

    # Years 2015..2020: the lower of the middle two, a year some row has. Prices skip the null. Ford and BMW tie
    # on two rows each: the alphabetically first wins.
    assert baseline == {"year": 2017.0, "price": 3000.0, "make": "BMW"}


def test_baseline_needs_a_value_of_every_input() -> None:
    with pytest.raises(ValueError, match="'make'"):
        choose_baseline([{"make": None, "year": 2015}], {"year": "double", "make": "string"})
