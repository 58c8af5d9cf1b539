"""The ops this runtime implements, one module each; importing the package registers them all.

To add an op (e.g. a classifier): write a module with a ``Stage`` subclass decorated with
``@register("op_name")`` and import it below.
"""

from __future__ import annotations

from . import (
    bucketizer,
    generalized_linear_regression,
    imputer,
    interaction,
    linear_regression,
    logistic_regression,
    math_binary,
    math_unary,
    max_abs_scaler,
    min_max_scaler,
    one_hot_encoder,
    standard_scaler,
    string_indexer,
    string_map,
    tree_classification,
    tree_regression,
    vector_assembler,
)
from .base import ColumnInfo, Compiled, Input, Output, Stage, Step
from .registry import load_stage, register, supported_ops

__all__ = [
    "ColumnInfo",
    "Compiled",
    "Input",
    "Output",
    "Stage",
    "Step",
    "bucketizer",
    "generalized_linear_regression",
    "imputer",
    "interaction",
    "linear_regression",
    "load_stage",
    "logistic_regression",
    "math_binary",
    "math_unary",
    "max_abs_scaler",
    "min_max_scaler",
    "one_hot_encoder",
    "register",
    "standard_scaler",
    "string_indexer",
    "string_map",
    "supported_ops",
    "tree_classification",
    "tree_regression",
    "vector_assembler",
]
