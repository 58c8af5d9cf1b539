"""Reading the Bundle.ML format (JSON or protobuf serialization) into plain dataclasses. No maths, no op
semantics.

Layout, the same in a zip and in a directory::

    bundle.json                      uid, name, format, version, timestamp
    root/node.json                   {"name": ..., "shape": {"inputs": [sockets], "outputs": [sockets]}}
    root/model.json                  {"op": ..., "attributes": {typed values}}
    root/<child>.node/...            a pipeline's stages, named by its "nodes" attribute
    <node>/tree.json                 a decision tree: one JSON node per line, pre-order
    <node>/<treeN>/model.json, tree.json   an ensemble's trees, named by its "trees" attribute

A protobuf bundle (``"format": "protobuf"`` in bundle.json, which stays JSON) has node.pb, model.pb and
tree.pb in their place, holding bundle-protobuf's messages; ``bundle_pb`` reads them into the objects the
JSON files would hold, so both formats take the same path from there on.

The bundle is untrusted: paths are checked before anything is read, sizes are capped (``limits``), and
nothing in it is ever executed.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from . import bundle_pb
from .attributes import Attributes, decode_attributes
from .errors import BundleError
from .limits import (
    MAX_BUNDLE_BYTES,
    MAX_FILE_BYTES,
    MAX_NAME_LENGTH,
    MAX_PIPELINE_DEPTH,
    MAX_STAGES,
    MAX_TOTAL_TREE_NODES,
    MAX_TREE_DEPTH,
    MAX_TREE_NODES,
    MAX_TREES,
    MAX_VECTOR_SIZE,
    MAX_ZIP_ENTRIES,
)

BUNDLE_JSON = "bundle.json"
ROOT = "root"
PIPELINE_OP = "pipeline"
FORMATS = ("json", "protobuf")


@dataclass(frozen=True)
class BundleInfo:
    """bundle.json: ``version`` is the MLeap version that wrote the bundle."""

    uid: str
    name: str
    format: str
    version: str
    timestamp: str


@dataclass(frozen=True, slots=True)
class Split:
    kind: str  # "continuous" | "categorical"
    feature: int
    threshold: float  # continuous: go left when x[feature] <= threshold
    categories: tuple[float, ...]  # categorical: the categories listed
    is_left: bool  # categorical: True = listed categories go left; False = they go right
    num_categories: int


@dataclass(frozen=True, slots=True)
class TreeNode:
    split: Split | None  # None for a leaf
    values: tuple[float, ...]  # leaf: values[0] is the prediction
    left: int  # child indices into Tree.nodes; -1 for a leaf
    right: int


@dataclass(frozen=True)
class Tree:
    """A decision tree in the order tree.json lists it (pre-order); nodes[0] is the root."""

    nodes: tuple[TreeNode, ...]
    depth: int
    path: str


@dataclass(frozen=True)
class TreeModel:
    """One model of an ensemble, stored in a sub-folder of the ensemble's node (tree0, tree1, ...)."""

    name: str
    op: str
    attributes: Attributes
    tree: Tree | None
    path: str


@dataclass(frozen=True)
class Node:
    """One stage: node.json (name, ports) plus model.json (op, attributes) and what hangs off them."""

    name: str
    op: str
    path: str  # folder inside the bundle, e.g. "root/features.node/si_make.node"
    inputs: dict[str, str]  # port -> column, in the order node.json lists them
    outputs: dict[str, str]
    attributes: Attributes
    children: tuple[Node, ...] = ()  # a pipeline's stages, in order
    tree: Tree | None = None  # a single decision tree's tree.json
    trees: tuple[TreeModel, ...] = ()  # an ensemble's trees, in order

    def where(self) -> str:
        """How errors name this stage."""
        return f"{self.path}: stage {self.name!r} (op {self.op!r})"


@dataclass(frozen=True)
class Bundle:
    info: BundleInfo
    root: Node


# -- sources: a zip or a directory, read by relative POSIX path ----------------------------------------


class _Source(Protocol):
    def read(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...


def _unsafe_reason(name: str) -> str | None:
    if not name or "\x00" in name:
        return "empty name or NUL byte"
    if "\\" in name:
        return "backslash in path"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if any(part == ".." for part in name.split("/")):
        return "'..' in path"
    return None


class _ZipSource:
    def __init__(self, archive: zipfile.ZipFile, label: str) -> None:
        self._zip = archive
        self._label = label
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise BundleError(f"{label}: {len(infos)} zip entries exceed the limit of {MAX_ZIP_ENTRIES}")
        self._files: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            reason = _unsafe_reason(info.filename)
            if reason is not None:
                raise BundleError(f"{label}: unsafe zip entry {info.filename!r}: {reason}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BundleError(f"{label}: zip entry {info.filename!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise BundleError(f"{label}: zip entry {info.filename!r} is encrypted")
            total += info.file_size
            if total > MAX_BUNDLE_BYTES:
                raise BundleError(f"{label}: uncompressed size exceeds the limit of {MAX_BUNDLE_BYTES} bytes")
            if info.is_dir():
                continue
            name = info.filename.removeprefix("./")
            if name in self._files:
                raise BundleError(f"{label}: zip entry {name!r} appears twice")
            self._files[name] = info

    def exists(self, path: str) -> bool:
        return path in self._files

    def read(self, path: str) -> bytes:
        info = self._files.get(path)
        if info is None:
            raise BundleError(f"{path}: missing from the bundle")
        if info.file_size > MAX_FILE_BYTES:
            raise BundleError(f"{path}: {info.file_size} bytes exceed the limit of {MAX_FILE_BYTES}")
        try:
            # zipfile stops at the header's size and checks the CRC, so a lying header cannot
            # make this read more than the budget checked above.
            return self._zip.read(info)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, ValueError) as e:
            raise BundleError(f"{path}: cannot read zip entry: {e}") from None


class _DirSource:
    def __init__(self, base: Path) -> None:
        self._base = base.resolve()
        self._read_total = 0

    def _resolve(self, path: str) -> Path | None:
        full = (self._base / path).resolve()
        # A symbolic link may point outside the bundle: refuse rather than follow it.
        if not full.is_relative_to(self._base):
            raise BundleError(f"{path}: resolves outside the bundle directory")
        return full if full.is_file() else None

    def exists(self, path: str) -> bool:
        return self._resolve(path) is not None

    def read(self, path: str) -> bytes:
        full = self._resolve(path)
        if full is None:
            raise BundleError(f"{path}: missing from the bundle")
        size = full.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BundleError(f"{path}: {size} bytes exceed the limit of {MAX_FILE_BYTES}")
        self._read_total += size
        if self._read_total > MAX_BUNDLE_BYTES:
            raise BundleError(f"{path}: bundle exceeds the limit of {MAX_BUNDLE_BYTES} bytes")
        with full.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise BundleError(f"{path}: exceeds the limit of {MAX_FILE_BYTES} bytes")
        return data


# -- JSON helpers --------------------------------------------------------------------------------------


def _parse_json(data: bytes, path: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{path}: malformed JSON: {e}") from None
    except RecursionError:
        raise BundleError(f"{path}: malformed JSON: nested too deeply") from None


def _object(data: bytes, path: str) -> dict[str, Any]:
    value = _parse_json(data, path)
    if not isinstance(value, dict):
        raise BundleError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def _text(obj: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise BundleError(f"{path}: {key!r} must be a string, found {value!r:.60}")
    return value


def _check_name(name: Any, what: str, path: str) -> str:
    """Names become folder names (pipelines, ensembles): refuse anything that could leave the folder."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise BundleError(f"{path}: invalid {what} {name!r:.80}")
    if name in (".", "..") or any(c in name for c in "/\\\x00"):
        raise BundleError(f"{path}: unsafe {what} {name!r:.80}")
    return name


def _sockets(shape: dict[str, Any], key: str, path: str) -> dict[str, str]:
    sockets = shape.get(key, [])
    if not isinstance(sockets, list):
        raise BundleError(f"{path}: shape {key!r} must be a list")
    ports: dict[str, str] = {}
    for socket in sockets:
        if not isinstance(socket, dict):
            raise BundleError(f"{path}: shape {key!r}: expected socket objects, found {socket!r:.60}")
        port = socket.get("port")
        column = socket.get("name")
        if not isinstance(port, str) or not port or len(port) > MAX_NAME_LENGTH:
            raise BundleError(f"{path}: shape {key!r}: invalid port {port!r:.60}")
        if not isinstance(column, str) or not column or len(column) > MAX_NAME_LENGTH:
            raise BundleError(f"{path}: shape {key!r}: port {port!r} names no valid column ({column!r:.60})")
        if port in ports:
            raise BundleError(f"{path}: shape {key!r}: port {port!r} appears twice")
        ports[port] = column
    return ports


# -- trees ---------------------------------------------------------------------------------------------


def _number(x: Any, what: str, where: str) -> float:
    if x is None:  # spray-json reads null as NaN, which is how MLeap wrote NaN/±inf
        return float("nan")
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise BundleError(f"{where}: {what} must be a number, found {x!r:.60}")
    return float(x)


def _index(x: Any, what: str, where: str, upper: int) -> int:
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < upper:
        raise BundleError(f"{where}: {what} must be an integer in [0, {upper}), found {x!r:.60}")
    return x


def _split(raw: Any, where: str) -> Split:
    if not isinstance(raw, dict):
        raise BundleError(f"{where}: 'split' must be an object")
    kind = raw.get("type")
    feature = _index(raw.get("featureIndex"), "featureIndex", where, MAX_VECTOR_SIZE)
    if kind == "continuous":
        threshold = _number(raw.get("threshold"), "threshold", where)
        return Split("continuous", feature, threshold, (), True, 0)
    if kind == "categorical":
        is_left = raw.get("isLeft")
        if not isinstance(is_left, bool):
            raise BundleError(f"{where}: categorical split needs a boolean 'isLeft'")
        categories = raw.get("categories", [])
        if not isinstance(categories, list) or len(categories) > MAX_VECTOR_SIZE:
            raise BundleError(f"{where}: 'categories' must be a list of at most {MAX_VECTOR_SIZE} numbers")
        cats = tuple(_number(c, "category", where) for c in categories)
        num = _index(raw.get("numCategories", 0), "numCategories", where, MAX_VECTOR_SIZE + 1)
        return Split("categorical", feature, float("nan"), cats, is_left, num)
    raise BundleError(f"{where}: unknown split type {kind!r:.60}")


def parse_tree(data: bytes, path: str, budget: list[int]) -> Tree:
    """tree.json: one node per line in pre-order (node, left subtree, right subtree).

    ``budget`` holds the tree nodes the whole bundle may still have.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BundleError(f"{path}: not UTF-8: {e}") from None

    def lines() -> Iterator[tuple[str, Callable[[], Any]]]:
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                where = f"{path}: line {line_no}"
                yield where, partial(_parse_json, line.encode(), where)

    return build_tree(lines(), path, budget)


def parse_tree_pb(data: bytes, path: str, budget: list[int]) -> Tree:
    """tree.pb: the same pre-order nodes as tree.json, each a length-prefixed protobuf message."""
    records = ((where, partial(bundle_pb.tree_node, record, where))
               for where, record in bundle_pb.tree_records(data, path))
    return build_tree(records, path, budget)


def build_tree(entries: Iterable[tuple[str, Callable[[], Any]]], path: str, budget: list[int]) -> Tree:
    """Rebuild a tree from its nodes in pre-order, each given as (how errors name it, a function that
    decodes it into tree.json's object form). Decoding is deferred so the size limits are checked first.

    Rebuilt with an explicit stack, so a deep or malicious tree cannot exhaust Python's recursion.
    """
    splits: list[Split | None] = []
    values: list[tuple[float, ...]] = []
    left: list[int] = []
    right: list[int] = []
    open_nodes: list[int] = []  # internal nodes still waiting for a child
    depth = 0
    done = False
    for where, decode in entries:
        if done:
            raise BundleError(f"{where}: data after the end of the tree")
        if len(splits) >= MAX_TREE_NODES:
            raise BundleError(f"{path}: more than {MAX_TREE_NODES} nodes")
        budget[0] -= 1
        if budget[0] < 0:
            raise BundleError(f"{path}: the bundle's trees exceed {MAX_TOTAL_TREE_NODES} nodes in total")
        raw = decode()
        if not isinstance(raw, dict):
            raise BundleError(f"{where}: expected a JSON object")
        index = len(splits)
        if open_nodes:
            parent = open_nodes[-1]
            if left[parent] < 0:
                left[parent] = index
            else:
                right[parent] = index
                open_nodes.pop()
        kind = raw.get("type")
        if kind == "internal":
            splits.append(_split(raw.get("split"), where))
            values.append(())
            open_nodes.append(index)
            depth = max(depth, len(open_nodes))
            if depth > MAX_TREE_DEPTH:
                raise BundleError(f"{path}: deeper than {MAX_TREE_DEPTH} levels")
        elif kind == "leaf":
            leaf_values = raw.get("values")
            if not isinstance(leaf_values, list) or not leaf_values or len(leaf_values) > MAX_VECTOR_SIZE:
                raise BundleError(f"{where}: a leaf needs a non-empty 'values' list")
            splits.append(None)
            values.append(tuple(_number(v, "leaf value", where) for v in leaf_values))
        else:
            raise BundleError(f"{where}: unknown node type {kind!r:.60}")
        left.append(-1)
        right.append(-1)
        done = not open_nodes
    if not splits:
        raise BundleError(f"{path}: empty tree")
    if not done:
        raise BundleError(f"{path}: truncated tree: {len(open_nodes)} internal node(s) lack children")
    nodes = tuple(TreeNode(s, v, lt, rt) for s, v, lt, rt in zip(splits, values, left, right, strict=True))
    return Tree(nodes=nodes, depth=depth, path=path)


# -- the reader ----------------------------------------------------------------------------------------


@dataclass
class _Reader:
    source: _Source
    stages: int = 0
    tree_budget: list[int] = field(default_factory=lambda: [MAX_TOTAL_TREE_NODES])
    protobuf: bool = False  # set from bundle.json: node.pb, model.pb, tree.pb instead of .json

    def read_info(self) -> BundleInfo:
        if not self.source.exists(BUNDLE_JSON):
            raise BundleError(f"{BUNDLE_JSON}: missing at the bundle's top level")
        raw = _object(self.source.read(BUNDLE_JSON), BUNDLE_JSON)
        fmt = _text(raw, "format", BUNDLE_JSON)
        if fmt not in FORMATS:
            raise BundleError(f"{BUNDLE_JSON}: unknown format {fmt!r}")
        self.protobuf = fmt == "protobuf"
        return BundleInfo(
            uid=_text(raw, "uid", BUNDLE_JSON, ""),
            name=_text(raw, "name", BUNDLE_JSON, ""),
            format=fmt,
            version=_text(raw, "version", BUNDLE_JSON),
            timestamp=_text(raw, "timestamp", BUNDLE_JSON, ""),
        )

    def _file(self, folder: str, base: str) -> str:
        return f"{folder}/{base}.{'pb' if self.protobuf else 'json'}"

    def _read_object(self, path: str, decode_pb: Callable[[bytes, str], dict[str, Any]]) -> dict[str, Any]:
        data = self.source.read(path)
        return decode_pb(data, path) if self.protobuf else _object(data, path)

    def read_model(self, folder: str) -> tuple[str, Attributes]:
        path = self._file(folder, "model")
        raw = self._read_object(path, bundle_pb.read_model)
        op = raw.get("op")
        if not isinstance(op, str) or not op or len(op) > MAX_NAME_LENGTH:
            raise BundleError(f"{path}: invalid 'op' {op!r:.60}")
        return op, decode_attributes(raw.get("attributes"), path)

    def read_tree(self, folder: str) -> Tree | None:
        path = self._file(folder, "tree")
        if not self.source.exists(path):
            return None
        parse = parse_tree_pb if self.protobuf else parse_tree
        return parse(self.source.read(path), path, self.tree_budget)

    def read_node(self, folder: str, depth: int) -> Node:
        self.stages += 1
        if self.stages > MAX_STAGES:
            raise BundleError(f"{folder}: the bundle has more than {MAX_STAGES} stages")
        node_path = self._file(folder, "node")
        raw = self._read_object(node_path, bundle_pb.read_node)
        name = _text(raw, "name", node_path)
        shape = raw.get("shape", {})
        if not isinstance(shape, dict):
            raise BundleError(f"{node_path}: 'shape' must be an object")
        inputs = _sockets(shape, "inputs", node_path)
        outputs = _sockets(shape, "outputs", node_path)
        op, attributes = self.read_model(folder)

        children: tuple[Node, ...] = ()
        if op == PIPELINE_OP:
            if depth >= MAX_PIPELINE_DEPTH:
                raise BundleError(f"{folder}: pipelines nested deeper than {MAX_PIPELINE_DEPTH}")
            names = attributes.string_list("nodes")
            children = tuple(
                self.read_node(f"{folder}/{_check_name(n, 'stage name', attributes.where)}.node", depth + 1)
                for n in names
            )

        trees: tuple[TreeModel, ...] = ()
        if "trees" in attributes:
            names = attributes.string_list("trees")
            if len(names) > MAX_TREES:
                raise BundleError(f"{attributes.where}: {len(names)} trees exceed the limit of {MAX_TREES}")
            trees = tuple(self.read_tree_model(folder, n, attributes.where) for n in names)

        return Node(
            name=name,
            op=op,
            path=folder,
            inputs=inputs,
            outputs=outputs,
            attributes=attributes,
            children=children,
            tree=self.read_tree(folder),
            trees=trees,
        )

    def read_tree_model(self, folder: str, name: Any, where: str) -> TreeModel:
        sub = f"{folder}/{_check_name(name, 'tree folder name', where)}"
        op, attributes = self.read_model(sub)
        return TreeModel(name=name, op=op, attributes=attributes, tree=self.read_tree(sub), path=sub)

    def read(self) -> Bundle:
        info = self.read_info()
        return Bundle(info=info, root=self.read_node(ROOT, 0))


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read a bundle from a .zip file or a directory; every problem is a BundleError."""
    location = Path(path)
    if location.is_dir():
        return _Reader(_DirSource(location)).read()
    if not location.is_file():
        raise BundleError(f"{location}: no such bundle file or directory")
    try:
        with zipfile.ZipFile(location) as archive:
            source = _ZipSource(archive, str(location))
            if not source.exists(BUNDLE_JSON):
                nested = sorted(n for n in source._files if PurePosixPath(n).name == BUNDLE_JSON)
                hint = f" (found {nested[0]!r}: zip the bundle's contents, not its folder)" if nested else ""
                raise BundleError(f"{location}: no {BUNDLE_JSON} at the zip's top level{hint}")
            return _Reader(source).read()
    except zipfile.BadZipFile as e:
        raise BundleError(f"{location}: not a readable zip file: {e}") from None
    except OSError as e:
        raise BundleError(f"{location}: cannot read: {e}") from None
