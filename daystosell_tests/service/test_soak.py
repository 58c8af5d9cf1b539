"""The soak of benchmarks/soak.py, shorter and at a lower rate: a real server under steady load answers every
request and does not grow.

The bounds are generous so that a loaded 2-core CI machine passes: 200 requests a second (the service takes
about a millisecond each), a 10-second request timeout, and 32 MiB of growth allowed over 10 seconds; the
benchmark runs 1,000 a second for 60 seconds with an 8 MiB bound. No latency is asserted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.loadgen import Target
from benchmarks.soak import advert_body, soak
from daystosell_service.golden import GOLDEN_FILE, GoldenRow, write_golden
from daystosell_service.launcher import running_service
from daystosell_service.mleap import load_bundle

from .support import advert

RATE = 200
DURATION_S = 10
WARMUP_S = 3
GROWTH_BOUND_MIB = 32.0


def test_soak_answers_every_request_and_does_not_grow(bundle_zip: Path, tmp_path: Path) -> None:
    body = dict(advert())
    body.pop("advert_id")
    # The service serves a bundle only once it reproduces its golden rows: give the test bundle one.
    bundle = Path(shutil.copy(bundle_zip, tmp_path / "bundle.zip"))
    model = load_bundle(bundle)
    inputs = {c: float(body[c]) if kind == "double" else body[c] for c, kind in model.input_schema.items()}
    prediction = float(model.transform([inputs], select=["prediction"])[0]["prediction"])
    write_golden(tmp_path / GOLDEN_FILE, [GoldenRow(inputs=inputs, prediction=prediction)])
    args = ["--golden", str(tmp_path / GOLDEN_FILE), "--log-level", "WARNING"]
    with running_service(bundle, args=args) as service:
        result = soak(service.process.pid, Target(f"{service.url}/v1/predictions", advert_body(body)),
                      rate=RATE, duration_s=DURATION_S, warmup_s=WARMUP_S, growth_bound_mib=GROWTH_BOUND_MIB)
    assert result.failures() == [], result.failures()
    assert result.passed
    assert result.load.requests == RATE * DURATION_S
    assert result.load.ok == result.load.requests
