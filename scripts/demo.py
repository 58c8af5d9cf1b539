"""`make demo`: the whole system on embedded defaults.

Seeds a sample lake, lets the raw-lake sensor request a retrain and runs it (every asset and check) into
the local Dagster instance, serves the new bundle over HTTP and compares its answers with Spark's, then
lets the bundle sensor do what the daemon would: build the scoring image, test it against the golden rows,
push it to the local registry and roll it out to pre-production and production (containers on loopback
behind nginx, ports 18080 and 18081). Those keep serving after the demo: `make stop` stops them.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import httpx
from dagster import AssetKey, DagsterInstance, build_sensor_context
from registry import ensure_registry

from daystosell_assets.definitions import defs
from daystosell_assets.defs.automation import raw_lake_sensor
from daystosell_assets.defs.release import mleap_bundle_sensor
from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.lake.simulator import MarketSpec, write_raw_lake
from daystosell_assets.resources import DEFAULT_LAKE_ROOT, lake_resources, spark_session
from daystosell_service.golden import GOLDEN_FILE, read_golden, relative_error
from daystosell_service.launcher import running_service

ROOT = Path(__file__).resolve().parents[1]


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def retrain(instance: DagsterInstance) -> None:
    say("evaluating the raw-lake sensor, as the Dagster daemon would")
    lake = lake_resources()["lake"]
    with build_sensor_context(instance=instance, resources={"lake": lake}) as context:
        requests = raw_lake_sensor.evaluate_tick(context)
    if not requests.run_requests or requests.run_requests[0].run_key is None:
        raise SystemExit("the raw-lake sensor requested no retrain: is the lake seeded?")
    request, run_key = requests.run_requests[0], requests.run_requests[0].run_key
    say(f"retrain requested (run key {run_key[:20]}): every asset, every check (Spark local mode)")
    started = time.monotonic()
    # The daemon's own tags: a daemon started later (make ui) sees this state of the lake was trained on.
    tags = {**request.tags, "dagster/run_key": run_key, "dagster/sensor_name": raw_lake_sensor.name}
    result = defs.resolve_job_def("retrain").execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    if not result.success:
        raise SystemExit("the retrain failed: see its log above (a failed check names the rows that broke it)")
    say(f"asset graph materialised in {time.monotonic() - started:.0f} s")


def serve_and_compare(bundle_dir: Path, version: str) -> None:
    golden = read_golden(bundle_dir / GOLDEN_FILE)
    # Ordinary adverts, then two the model never saw: an unknown make and an unknown postcode area.
    unseen = [g for g in golden if g.inputs["make"] == "Trabant" or g.inputs["postcode_area"] == "ZZ"]
    sample = golden[:5] + unseen[:2]
    say("starting the scoring service")
    with running_service(bundle_dir / "bundle.zip") as service:
        say(f"ready at {service.url}")
        response = httpx.post(f"{service.url}/v1/predictions", json={"adverts": [g.inputs for g in sample]},
                              timeout=10)
        response.raise_for_status()
        body = response.json()
    say(f"model {body['model_version']}  bundle {body['bundle_digest'][:19]}")
    print(f"{'make':<14}{'model':<18}{'fuel':<15}{'area':<5}{'age':>4}{'price/val':>10}"
          f"{'service':>10}{'spark':>10}{'rel.err':>10}")
    for g, p in zip(sample, body["predictions"], strict=True):
        i, days = g.inputs, p["days_to_sell"]
        print(f"{i['make']:<14}{i['model']:<18}{i['fuel']:<15}{i['postcode_area']:<5}"
              f"{i['listing_year'] - i['registration_year']:>4.0f}{i['asking_price'] / i['valuation']:>10.2f}"
              f"{days:>10.2f}{g.prediction:>10.2f}{relative_error(g.prediction, days):>10.1e}")
    assert version == body["model_version"]


def release(instance: DagsterInstance) -> None:
    registry = ensure_registry()
    say(f"local registry at {registry.address} (scripts/registry.py)")
    say("evaluating the bundle sensor, as the Dagster daemon would")
    requests = mleap_bundle_sensor.evaluate_tick(build_sensor_context(instance=instance)).run_requests or []
    if not requests or requests[0].run_key is None:
        raise SystemExit("the bundle sensor requested no release: was mleap_bundle materialised?")
    request, run_key = requests[0], requests[0].run_key
    say(f"release run requested (run key {run_key[:19]}): build, golden test, push, pre-production, production")
    # The tags the daemon itself puts on a sensor's run: a daemon started later (make ui) then knows
    # this bundle's release has run and does not request it again.
    tags = {**request.tags, "dagster/run_key": run_key, "dagster/sensor_name": mleap_bundle_sensor.name}
    started = time.monotonic()
    result = defs.resolve_job_def("release").execute_in_process(
        instance=instance, run_config=request.run_config, tags=tags, raise_on_error=False)
    if not result.success:
        raise SystemExit("the release run failed: see its log above")
    prod = result.asset_value("prod_deployment").deployment
    say(f"released in {time.monotonic() - started:.0f} s: production at {prod.url} runs {prod.release.image}")
    ready = httpx.get(f"{prod.url}/health/ready", timeout=5).json()
    say(f"production answers: model {ready['model_version']}, bundle {ready['bundle_digest'][:19]} "
        "(`make stop` stops the environments and the registry)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--adverts", type=int, default=MarketSpec.adverts)
    parser.add_argument("--no-release", action="store_true", help="stop before building the image")
    args = parser.parse_args()

    lake_root = Path(os.environ.get("DAYSTOSELL_LAKE_ROOT", DEFAULT_LAKE_ROOT))
    say(f"seeding a sample lake of {args.adverts:,} adverts in {lake_root}")
    counts = write_raw_lake(spark_session(), LakeLayout(str(lake_root)), MarketSpec(adverts=args.adverts))
    print("   " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    instance = DagsterInstance.get()
    retrain(instance)
    fitted = instance.get_latest_materialization_event(AssetKey("fitted_model"))
    if fitted is not None and fitted.asset_materialization is not None:
        model = {k: v.value for k, v in fitted.asset_materialization.metadata.items()}
        say(f"chosen estimator {model['estimator']}: holdout MAE {model['holdout_mae']:.2f} days against the "
            f"make/model baseline's {model['baseline_mae']:.2f} (the comparison is in fitted_model's metadata)")
    event = instance.get_latest_materialization_event(AssetKey("mleap_bundle"))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    serve_and_compare(Path(str(metadata["bundle_dir"].value)), str(metadata["model_version"].value))
    if not args.no_release:
        release(instance)
    say("done")


if __name__ == "__main__":
    main()
