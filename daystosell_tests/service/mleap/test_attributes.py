"""Typed attribute values, as MLeap's JSON writer emits them, decoded into plain Python."""

from __future__ import annotations

import math
from typing import Any

import pytest

from daystosell_service.mleap import BundleError
from daystosell_service.mleap import attributes as attributes_module
from daystosell_service.mleap.attributes import Attributes, DataShape, decode_attributes

from . import bundle_writer as bw

WHERE = "root/stage.node/model.json"


def attrs(raw: dict[str, Any]) -> Attributes:
    return decode_attributes(raw, WHERE)


def test_scalars_decode_to_their_values() -> None:
    a = attrs({"d": {"double": 1.5}, "l": {"long": 3}, "i": {"int": -2}, "s": {"string": "keep"},
               "b": {"boolean": True}})
    assert a.double("d") == 1.5
    assert a.long("l") == 3
    assert a.integer("i") == -2
    assert a.string("s") == "keep"
    assert a.boolean("b") is True


def test_a_dropped_default_decodes_to_the_default_of_the_type_asked_for() -> None:
    # MLeap's writer turns 0, 0.0, false and "" into {}: only the reader knows which was meant.
    a = attrs({"x": {}})
    assert a.double("x") == 0.0 and isinstance(a.double("x"), float)
    assert a.long("x") == 0
    assert a.integer("x") == 0
    assert a.string("x") == ""
    assert a.boolean("x") is False


def test_an_empty_list_decodes_to_an_empty_list_of_any_type() -> None:
    a = attrs({"l": {"type": "list"}})
    assert a.double_list("l") == []
    assert a.string_list("l") == []
    assert a.int_list("l") == []


def test_an_absent_attribute_takes_the_default_or_fails_naming_file_and_attribute() -> None:
    a = attrs({})
    assert a.double("intercept", 2.5) == 2.5
    assert a.string_list("labels", ["x"]) == ["x"]
    with pytest.raises(BundleError, match=rf"^{WHERE}: attribute 'intercept': required double attribute is missing"):
        a.double("intercept")


def test_optional_double_tells_an_absent_attribute_from_a_dropped_zero() -> None:
    a = attrs({"da": {}, "db": {"double": -1.5}})
    assert a.optional_double("da") == 0.0
    assert a.optional_double("db") == -1.5
    assert a.optional_double("dc") is None


def test_null_doubles_are_nan_as_mleap_reads_them() -> None:
    a = attrs({"splits": bw.double_list([-math.inf, 1000.0, math.inf]), "d": {"double": None}})
    splits = a.double_list("splits")
    assert math.isnan(splits[0]) and splits[1] == 1000.0 and math.isnan(splits[2])
    assert math.isnan(a.double("d"))


def test_writer_helpers_drop_defaults_like_mleap() -> None:
    # The test bundles must look like MLeap's, or the default handling above is not exercised.
    assert bw.double(0.0) == {} and bw.long(0) == {} and bw.boolean(False) == {} and bw.string("") == {}
    assert bw.double_list([]) == {"type": "list"}
    assert bw.double_list([math.nan]) == {"type": "list", "double": [None]}


def test_integral_values_accept_integral_json_floats_only() -> None:
    assert attrs({"n": {"long": 13.0}}).long("n") == 13
    with pytest.raises(BundleError, match=r"attribute 'n': expected an integer, found 13.5"):
        attrs({"n": {"long": 13.5}})


def test_long_and_int_accept_each_other_when_in_range() -> None:
    assert attrs({"n": {"int": 7}}).long("n") == 7
    assert attrs({"n": {"long": 7}}).integer("n") == 7
    with pytest.raises(BundleError, match=r"attribute 'n': .* does not fit an int"):
        attrs({"n": {"long": 2**31}}).integer("n")
    with pytest.raises(BundleError, match=r"attribute 'n': integer .* out of range"):
        attrs({"n": {"int": 2**31}})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"double": "1.5"}, "expected a number or null"),
        ({"double": True}, "expected a number or null"),
        ({"boolean": 1}, "expected true or false"),
        ({"string": 3}, "expected a string"),
        ({"long": 2**63}, "out of range"),
        ({"type": "list", "double": 5}, "must be a JSON array"),
        ({"type": "list", "string": ["a", 1]}, "expected a string"),
        ({"type": "matrix"}, "unknown value type"),
        (3, "expected a typed value object"),
        ({"type": "tensor", "double": [1.0, 2.0], "shape": {"dimensions": [{"size": 3, "name": ""}]}},
         "does not match its 2 values"),
        ({"type": "tensor", "double": [1.0]}, "tensor has no 'shape'"),
    ],
)
def test_malformed_values_fail_at_decode_naming_file_and_attribute(value: Any, problem: str) -> None:
    with pytest.raises(BundleError, match=rf"^{WHERE}: attribute 'x': .*{problem}"):
        attrs({"x": value})


def test_asking_for_the_wrong_type_names_the_attribute() -> None:
    with pytest.raises(BundleError, match=r"attribute 'x': expected a double, found \['string'\]"):
        attrs({"x": {"string": "a"}}).double("x")
    with pytest.raises(BundleError, match=r"attribute 'x': expected a double scalar, found a ListValue"):
        attrs({"x": bw.double_list([1.0])}).double("x")
    with pytest.raises(BundleError, match=r"attribute 'x': expected a string list, found \['double'\]"):
        attrs({"x": bw.double_list([1.0])}).string_list("x")


def test_a_vector_may_be_a_1d_tensor_or_a_double_list() -> None:
    assert attrs({"c": bw.tensor([1.0, -2.5])}).double_vector("c") == [1.0, -2.5]
    assert attrs({"c": bw.double_list([1.0, -2.5])}).double_vector("c") == [1.0, -2.5]
    matrix = {"type": "tensor", "double": [1.0, 2.0], "shape": {"dimensions": [{"size": 1}, {"size": 2}]}}
    with pytest.raises(BundleError, match=r"attribute 'c': expected a 1-D tensor"):
        attrs({"c": matrix}).double_vector("c")


def test_data_shapes_decode() -> None:
    a = attrs({"input_shapes": bw.shapes(bw.scalar_shape(), bw.vector_shape(8))})
    assert a.data_shape_list("input_shapes") == [DataShape("scalar", True, None), DataShape("tensor", True, (8,))]
    with pytest.raises(BundleError, match="data shape 'base' must be scalar, list or tensor"):
        attrs({"s": {"type": "list", "data_shape": [{"base": "cube"}]}})


def test_list_length_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attributes_module, "MAX_LIST_LENGTH", 3)
    assert attrs({"l": bw.double_list([1.0, 2.0, 3.0])}).double_list("l") == [1.0, 2.0, 3.0]
    with pytest.raises(BundleError, match="attribute 'l': list of 4 elements exceeds the limit of 3"):
        attrs({"l": bw.double_list([1.0, 2.0, 3.0, 4.0])})
