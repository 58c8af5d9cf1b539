"""Bundle.ML's protobuf messages (MLeap's ``bundle-protobuf``: bundle.proto, ext/dtree.proto), read into the
JSON objects MLeap's own JSON writer makes of them (``ml.combust.bundle.json.JsonSupport``).

A protobuf bundle and a JSON bundle of the same model then go through the same validation and end up as the
same ``Node``, ``Attributes`` and ``Tree`` structures, so no op needs to know which format it came from. The
rules follow that writer: a scalar keeps only its non-default fields (so 0, 0.0, false and "" are ``{}``),
a list only its non-empty ones, byte and short scalars are ``int``, and byte strings are base64 text.

Messages decoded (field numbers from bundle.proto and ext/dtree.proto, MLeap 0.20's bundle-protobuf):
``Node``, ``NodeShape``, ``Socket``, ``Model``, ``Attributes`` (a map of string -> ``Value``), ``Value``,
``Scalar``, ``List``, ``Tensor``, ``TensorShape``, ``TensorDimension``, ``DataShape``, the ``BasicType``
and ``DataShapeType`` enums, and the decision tree's ``Node``/``Split``. A tensor's values are one byte
string, big-endian and packed as MLeap's ``ArraySerializer``s write them; a tree file is its nodes in
pre-order, each as a 4-byte big-endian length then the message (``ProtoFormatTreeWriter``).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

from .errors import BundleError
from .limits import MAX_LIST_LENGTH
from .protobuf import FIXED32, FIXED64, LENGTH, VARINT, Message, utf8

Json = dict[str, Any]

_BASIC_TYPES = {0: "unknown", 1: "boolean", 2: "byte", 3: "short", 4: "int", 5: "long", 6: "float",
                7: "double", 100: "string", 101: "byte_string"}
_DATA_SHAPE_TYPES = {0: "scalar", 1: "list", 2: "tensor"}

# field number -> (name, wire type), per message
_TENSOR_DIMENSION = {1: ("size", VARINT), 2: ("name", LENGTH)}
_TENSOR_SHAPE = {1: ("dimensions", LENGTH)}
_TENSOR = {1: ("base", VARINT), 2: ("shape", LENGTH), 3: ("value", LENGTH)}
_DATA_SHAPE = {1: ("base", VARINT), 2: ("is_nullable", VARINT), 3: ("tensor_shape", LENGTH)}
_LIST = {1: ("b", VARINT), 2: ("s", LENGTH), 3: ("i", VARINT), 4: ("l", VARINT), 5: ("f", FIXED32),
         6: ("d", FIXED64), 7: ("bs", LENGTH), 8: ("t", LENGTH), 9: ("bt", VARINT), 10: ("ds", LENGTH),
         11: ("m", LENGTH)}
_SCALAR = {1: ("b", VARINT), 2: ("s", LENGTH), 3: ("i", VARINT), 4: ("l", VARINT), 5: ("f", FIXED32),
           6: ("d", FIXED64), 7: ("bs", LENGTH), 8: ("t", LENGTH), 9: ("bt", VARINT), 10: ("ds", LENGTH),
           11: ("m", LENGTH)}
_VALUE = {1: ("s", LENGTH), 2: ("l", LENGTH), 3: ("t", LENGTH)}
_ATTRIBUTE_ENTRY = {1: ("key", LENGTH), 2: ("value", LENGTH)}
_ATTRIBUTES = {1: ("list", LENGTH)}
_MODEL = {1: ("op", LENGTH), 2: ("attributes", LENGTH)}
_SOCKET = {1: ("port", LENGTH), 2: ("name", LENGTH)}
_NODE_SHAPE = {1: ("inputs", LENGTH), 2: ("outputs", LENGTH)}
_NODE = {1: ("name", LENGTH), 2: ("shape", LENGTH)}

_CATEGORICAL_SPLIT = {1: ("feature_index", VARINT), 2: ("is_left", VARINT), 3: ("num_categories", VARINT),
                      4: ("categories", FIXED64)}
_CONTINUOUS_SPLIT = {1: ("feature_index", VARINT), 2: ("threshold", FIXED64)}
_SPLIT = {1: ("categorical", LENGTH), 2: ("continuous", LENGTH)}
_INTERNAL_NODE = {1: ("split", LENGTH)}
_LEAF_NODE = {1: ("values", FIXED64)}
_TREE_NODE = {1: ("internal", LENGTH), 2: ("leaf", LENGTH)}

# Tensor element widths and struct codes (big-endian, as java.nio.ByteBuffer writes them).
_FIXED_ELEMENTS = {"short": (2, "h"), "int": (4, "i"), "long": (8, "q"), "float": (4, "f"), "double": (8, "d")}


# -- values --------------------------------------------------------------------------------------------


def _tensor_shape(msg: Message) -> Json:
    dims = msg.messages(1, _TENSOR_DIMENSION)
    if len(dims) > 32:
        raise BundleError(f"{msg.where}: {msg.name}: tensor shape has {len(dims)} dimensions (at most 32)")
    return {"dimensions": [{"size": d.int32(1), "name": d.string(2)} for d in dims]}


def _data_shape(msg: Message) -> Json:
    shape: Json = {"base": msg.enum(1, _DATA_SHAPE_TYPES), "isNullable": msg.boolean(2)}
    tensor_shape = msg.message(3, _TENSOR_SHAPE)
    if tensor_shape is not None:
        shape["tensorShape"] = _tensor_shape(tensor_shape)
    return shape


def _length_prefixed(data: memoryview, where: str) -> Iterator[memoryview]:
    """A string or byte-string tensor's elements: each a 4-byte big-endian length, then the bytes."""
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 4:
            raise BundleError(f"{where}: truncated element length")
        size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
        pos += 4
        if not 0 <= size <= end - pos:
            raise BundleError(f"{where}: element length {size} runs past the end of the tensor")
        yield data[pos:pos + size]
        pos += size


def _tensor_values(base: str, data: memoryview, where: str) -> list[Any]:
    if base in _FIXED_ELEMENTS:
        width, code = _FIXED_ELEMENTS[base]
        if len(data) % width:
            raise BundleError(f"{where}: {len(data)} bytes are not a whole number of {base} values")
        count = len(data) // width
        if count > MAX_LIST_LENGTH:
            raise BundleError(f"{where}: tensor of {count} elements exceeds the limit of {MAX_LIST_LENGTH}")
        return list(struct.unpack(f">{count}{code}", data))
    if len(data) > MAX_LIST_LENGTH and base in ("boolean", "byte"):
        raise BundleError(f"{where}: tensor of {len(data)} elements exceeds the limit of {MAX_LIST_LENGTH}")
    if base == "boolean":
        return [b == 1 for b in data]  # MLeap reads 1 as true and any other byte as false
    if base == "byte":
        return list(struct.unpack(f">{len(data)}b", data))
    values: list[Any] = []
    for element in _length_prefixed(data, where):
        values.append(utf8(element, where) if base == "string" else base64.b64encode(element).decode("ascii"))
        if len(values) > MAX_LIST_LENGTH:
            raise BundleError(f"{where}: tensor exceeds the limit of {MAX_LIST_LENGTH} elements")
    return values


def _tensor(msg: Message) -> Json:
    """A tensor as MLeap's JSON writes it: ``{<element type>: [values], "shape": {...}}``."""
    base = msg.enum(1, _BASIC_TYPES)
    if base == "unknown":
        raise BundleError(f"{msg.at(1)}: a tensor needs an element type")
    shape = msg.message(2, _TENSOR_SHAPE)
    if shape is None:
        raise BundleError(f"{msg.where}: {msg.name}: a tensor needs a shape")
    return {base: _tensor_values(base, memoryview(msg.bytes_(3)), msg.at(3)), "shape": _tensor_shape(shape)}


def _scalar(msg: Message) -> Json:
    out: Json = {}
    if msg.boolean(1):
        out["boolean"] = True
    if (i := msg.int32(3)) != 0:
        out["int"] = i
    if (n := msg.int64(4)) != 0:
        out["long"] = n
    if (f := msg.float32(5)) != 0:
        out["float"] = f
    if (d := msg.double(6)) != 0:  # NaN != 0, so NaN is kept; -0.0 is dropped, as MLeap's JSON writer does
        out["double"] = d
    if s := msg.string(2):
        out["string"] = s
    if bs := msg.bytes_(7):
        out["byte_string"] = base64.b64encode(bs).decode("ascii")
    if (t := msg.message(8, _TENSOR)) is not None:
        out["tensor"] = _tensor(t)
    if (bt := msg.enum(9, _BASIC_TYPES)) != "unknown":
        out["basic_type"] = bt
    if (ds := msg.message(10, _DATA_SHAPE)) is not None:
        out["data_shape"] = _data_shape(ds)
    if (m := msg.message(11, _MODEL)) is not None:
        out["model"] = model_json(m)
    return out


def _list(msg: Message) -> Json:
    out: Json = {"type": "list"}
    lists: list[tuple[str, list[Any]]] = [
        ("boolean", msg.booleans(1)),
        ("int", msg.int32s(3)),
        ("long", msg.int64s(4)),
        ("float", msg.floats(5)),
        ("double", msg.doubles(6)),
        ("string", msg.payloads(2, utf8)),
        ("byte_string", msg.payloads(7, lambda b, _: base64.b64encode(b).decode("ascii"))),
        ("tensor", [_tensor(t) for t in msg.messages(8, _TENSOR)]),
        ("basic_type", msg.enums(9, _BASIC_TYPES)),
        ("data_shape", [_data_shape(d) for d in msg.messages(10, _DATA_SHAPE)]),
        ("model", [model_json(m) for m in msg.messages(11, _MODEL)]),
    ]
    for kind, values in lists:
        if values:
            out[kind] = values
    return out


def _value(msg: Message) -> Json:
    kinds = [n for n in (1, 2, 3) if msg.has(n)]
    if len(kinds) != 1:
        raise BundleError(f"{msg.where}: {msg.name}: a value needs exactly one of s, l, t; found {len(kinds)}")
    if kinds[0] == 1:
        scalar = msg.message(1, _SCALAR)
        return _scalar(scalar) if scalar is not None else {}
    if kinds[0] == 2:
        lst = msg.message(2, _LIST)
        return _list(lst) if lst is not None else {"type": "list"}
    tensor = msg.message(3, _TENSOR)
    assert tensor is not None  # has(3) and the wire type was checked
    return {"type": "tensor", **_tensor(tensor)}


def _attributes(msg: Message | None) -> Json:
    out: Json = {}
    if msg is None:
        return out
    for entry in msg.messages(1, _ATTRIBUTE_ENTRY):
        key = entry.string(1)
        if key in out:
            raise BundleError(f"{entry.where}: {msg.name}: attribute {key!r} appears twice")
        value = entry.message(2, _VALUE, f"{msg.name}[{key!r}]")
        if value is None:
            raise BundleError(f"{entry.where}: {msg.name}: attribute {key!r} has no value")
        out[key] = _value(value)
    return out


def model_json(msg: Message) -> Json:
    return {"op": msg.string(1), "attributes": _attributes(msg.message(2, _ATTRIBUTES))}


# -- files ---------------------------------------------------------------------------------------------


def read_model(data: bytes, path: str) -> Json:
    """model.pb as the object model.json would hold: ``{"op": ..., "attributes": {...}}``."""
    return model_json(Message(data, path, "Model", _MODEL))


def read_node(data: bytes, path: str) -> Json:
    """node.pb as the object node.json would hold: ``{"name": ..., "shape": {"inputs": [...], ...}}``."""
    msg = Message(data, path, "Node", _NODE)
    shape = msg.message(2, _NODE_SHAPE)

    def sockets(number: int) -> list[Json]:
        found = [] if shape is None else shape.messages(number, _SOCKET)
        return [{"port": s.string(1), "name": s.string(2)} for s in found]

    return {"name": msg.string(1), "shape": {"inputs": sockets(1), "outputs": sockets(2)}}


def _split(msg: Message) -> Json:
    categorical = msg.message(1, _CATEGORICAL_SPLIT)
    continuous = msg.message(2, _CONTINUOUS_SPLIT)
    if (categorical is None) == (continuous is None):
        raise BundleError(f"{msg.where}: {msg.name}: a split needs exactly one of categorical, continuous")
    if continuous is not None:
        return {"type": "continuous", "featureIndex": continuous.uint32(1), "threshold": continuous.double(2)}
    assert categorical is not None
    return {"type": "categorical", "featureIndex": categorical.uint32(1), "isLeft": categorical.boolean(2),
            "numCategories": categorical.uint32(3), "categories": categorical.doubles(4)}


def tree_node(data: bytes | memoryview, where: str) -> Json:
    """One dtree ``Node`` as the line tree.json would hold for it."""
    msg = Message(data, where, "Node", _TREE_NODE)
    internal = msg.message(1, _INTERNAL_NODE)
    leaf = msg.message(2, _LEAF_NODE)
    if (internal is None) == (leaf is None):
        raise BundleError(f"{where}: Node: a tree node needs exactly one of internal, leaf")
    if leaf is not None:
        return {"type": "leaf", "values": leaf.doubles(1)}
    assert internal is not None
    split = internal.message(1, _SPLIT)
    if split is None:
        raise BundleError(f"{where}: Node.internal: an internal node needs a split")
    return {"type": "internal", "split": _split(split)}


def tree_records(data: bytes, path: str) -> Iterator[tuple[str, memoryview]]:
    """tree.pb's node messages in file order, each with how errors name it (its record number)."""
    buf = memoryview(data)
    pos, end, record = 0, len(buf), 0
    while pos < end:
        record += 1
        where = f"{path}: record {record}"
        if end - pos < 4:
            raise BundleError(f"{where}: truncated record length")
        size = int.from_bytes(buf[pos:pos + 4], "big", signed=True)
        pos += 4
        if not 0 <= size <= end - pos:
            raise BundleError(f"{where}: record length {size} runs past the end of the file ({end - pos} bytes left)")
        yield where, buf[pos:pos + size]
        pos += size
