"""Caps on what a bundle may contain.

A bundle is untrusted input: these bound the memory and time one can make loading (or scoring) take.
They sit far above anything Spark writes for a realistic model (Spark's own tree depth limit is 30).
"""

from __future__ import annotations

# Whole bundle, as stored uncompressed (zip headers, or bytes read from a directory).
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
# One JSON file (bundle.json, node.json, model.json, tree.json).
MAX_FILE_BYTES = 128 * 1024 * 1024
# Entries in a zip bundle (files and directories).
MAX_ZIP_ENTRIES = 200_000
# Stages in the bundle, counting pipelines, at any depth.
MAX_STAGES = 10_000
# Pipelines inside pipelines.
MAX_PIPELINE_DEPTH = 32
# Elements in one list or tensor attribute.
MAX_LIST_LENGTH = 1 << 22
# Trees in one ensemble.
MAX_TREES = 20_000
# Nodes in one tree, depth of one tree, and nodes over all trees of the bundle.
MAX_TREE_NODES = 1 << 20
MAX_TREE_DEPTH = 64
MAX_TOTAL_TREE_NODES = 1 << 24
# Length of any vector a stage builds per row (one-hot size, assembled features): a bundle must not be
# able to make each request allocate gigabytes.
MAX_VECTOR_SIZE = 1 << 20
# Length of a stage, column, port or folder name.
MAX_NAME_LENGTH = 1024
