"""A Python runtime for MLeap bundles: reads the bundle format and scores rows with no JVM and no Spark.

Public API::

    model = load_bundle(path)            # a .zip bundle or a bundle directory
    model.transform(rows)                # list[dict] -> list[dict], each row plus the pipeline's outputs
    model.transform(rows, select=["prediction"])  # only these outputs, computing only what they need
    model.transform_columns({"make": array, ...}, select=["prediction"])  # the same over numpy columns:
                                         # Scored(columns={name: array}, index=rows they belong to)
    model.info                           # BundleInfo: uid, name, format, version (MLeap's), timestamp
    model.input_schema                   # {column: "string" | "double"} the pipeline reads from outside
    model.output_columns                 # columns the pipeline adds, in order
    model.ops                            # op names of every stage, depth first

``load_bundle`` raises ``BundleError`` (a ValueError) for anything wrong with the bundle: unreadable,
unsafe, malformed, or an op this runtime does not implement. ``transform`` raises ``TransformError``
(a ValueError) for a row it cannot score. Vectors come back as dense ``list[float]``.

Layout, as MLeap's: ``bundle`` reads the format, ``ops`` holds one module per op (the maths, after
mleap-core), ``plan`` compiles the pipeline into the per-row steps that ``transform`` runs and the
per-column steps that ``transform_columns`` runs (``batch``; tree walks compiled by ``kernels``).
"""

from __future__ import annotations

from .batch import Scored
from .bundle import BundleInfo
from .errors import BundleError, TransformError
from .model import MleapModel, load_bundle
from .ops import supported_ops

__all__ = ["BundleError", "BundleInfo", "MleapModel", "Scored", "TransformError", "load_bundle", "supported_ops"]
