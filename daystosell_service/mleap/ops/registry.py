"""Op name -> stage class. Each op module registers itself; an op nobody registered fails the load."""

from __future__ import annotations

from collections.abc import Callable

from ..bundle import Node
from ..errors import BundleError
from .base import Stage

_REGISTRY: dict[str, type[Stage]] = {}


def register(op: str) -> Callable[[type[Stage]], type[Stage]]:
    def add(cls: type[Stage]) -> type[Stage]:
        if op in _REGISTRY:
            raise RuntimeError(f"op {op!r} registered twice")
        _REGISTRY[op] = cls
        return cls

    return add


def supported_ops() -> list[str]:
    return sorted(_REGISTRY)


def load_stage(node: Node) -> Stage:
    cls = _REGISTRY.get(node.op)
    if cls is None:
        supported = ", ".join(["pipeline", *supported_ops()])
        raise BundleError(f"{node.path}: stage {node.name!r} uses op {node.op!r}, which this "
                          f"runtime does not support (supported: {supported})")
    return cls(node)
