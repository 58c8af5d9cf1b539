"""Bundle stages for the tree-classifier tests."""

from __future__ import annotations

from . import bundle_writer as bw

ALL_PORTS = {"prediction": "y", "raw_prediction": "raw", "probability": "prob"}


def stats(*values: float) -> bw.Json:
    """A classifier's leaf: its class statistics."""
    return {"type": "leaf", "values": list(values)}


def assembled(stage: bw.Stage) -> bw.Stage:
    return bw.pipeline("p", bw.assembler("va", ["x0", "x1"], "f"), stage)
