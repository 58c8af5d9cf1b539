"""The scoring service's app for granian (``granian --interface asgi --factory benchmarks.servers.granian_app:app``):
the bundle and its golden rows come from ``DAYSTOSELL_BUNDLE`` and ``DAYSTOSELL_GOLDEN``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from litestar import Litestar

from daystosell_service.app import create_app


def app() -> Litestar:
    logging.basicConfig(level=logging.WARNING)
    return create_app(Path(os.environ["DAYSTOSELL_BUNDLE"]), golden_path=Path(os.environ["DAYSTOSELL_GOLDEN"]))
