"""A release chain to test with: a temporary Dagster instance, a real registry with a password, the local
rollout on free ports, and the code location's ``release`` job pointed at them.

    with open_chain(tmp_path, base_image, tools) as chain:
        chain.land("v1", intercept=4.0)          # a new mleap_bundle materialisation
        [request] = chain.tick()                # the sensor, as the daemon evaluates it
        result = chain.release(request)         # the run it requests
        assert chain.serving("prod") == "v1"
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    Definitions,
    MetadataValue,
    RunRequest,
    build_sensor_context,
    instance_for_test,
)

from daystosell_assets.definitions import make_definitions
from daystosell_assets.defs.release import (
    ImageBuilderResource,
    LocalRolloutResource,
    RegistryResource,
    mleap_bundle_sensor,
)
from daystosell_assets.release import ContainerTools
from daystosell_assets.release.local_rollout import LocalRollout
from daystosell_assets.release.registry import RegistryTarget, credentials
from daystosell_service.api.scorer import bundle_digest
from daystosell_service.golden import GOLDEN_FILE, read_golden, write_golden
from daystosell_service.launcher import free_port
from daystosell_tests.conftest import load_script
from daystosell_tests.release.conftest import perturbed, write_bundle_folder

registry_script = load_script("registry")
USER = "release-bot"


@dataclass
class Chain:
    tmp: Path
    instance: DagsterInstance
    defs: Definitions
    registry: Any  # scripts/registry.py's Registry
    password: str
    rollout: LocalRollout
    ports: dict[str, int]
    tools: ContainerTools
    resources: dict[str, Any] = field(default_factory=dict)  # what make_definitions was given
    cursor: str | None = None
    versions: list[str] = field(default_factory=list)

    @property
    def target(self) -> RegistryTarget:
        return RegistryTarget(self.registry.address, "daystosell/service", False, USER, self.password)

    def record(self, folder: Path, version: str) -> str:
        """Records ``folder`` (bundle.zip, model.json, golden.jsonl) as a new ``mleap_bundle``
        materialisation, as the retrain job does; returns the bundle's digest."""
        digest = bundle_digest(folder / "bundle.zip")
        self.instance.report_runless_asset_event(AssetMaterialization(
            "mleap_bundle", metadata={"model_version": version, "bundle_digest": digest,
                                      "bundle_dir": MetadataValue.path(str(folder))}))
        self.versions.append(version)
        return digest

    def land(self, version: str, intercept: float, *, break_golden: bool = False) -> str:
        """A new bundle of the test pipeline (``intercept`` makes it another model); ``break_golden`` moves
        every 7th golden prediction by one part in a million, as a runtime that disagrees with Spark would."""
        folder = write_bundle_folder(self.tmp / "bundles" / version, model_version=version, intercept=intercept)
        if break_golden:
            rows, _ = perturbed(read_golden(folder / GOLDEN_FILE), every=7)
            write_golden(folder / GOLDEN_FILE, rows)
        return self.record(folder, version)

    def tick(self) -> list[RunRequest]:
        """One sensor evaluation from where the last one left off, as the daemon runs it."""
        with build_sensor_context(instance=self.instance, cursor=self.cursor) as context:
            result = mleap_bundle_sensor.evaluate_tick(context)
            self.cursor = context.cursor
        return list(result.run_requests or [])

    def release(self, request: RunRequest, **resources: Any) -> Any:
        """Runs ``request`` as the daemon would launch it; ``resources`` replace the chain's own for this run."""
        tags = {**request.tags, "dagster/run_key": request.run_key or ""}
        defs = make_definitions(**{**self.resources, **resources}) if resources else self.defs
        return defs.resolve_job_def("release").execute_in_process(
            run_config=request.run_config, instance=self.instance, tags=tags, raise_on_error=False)

    def serving(self, environment: str) -> str:
        ready = httpx.get(f"http://127.0.0.1:{self.ports[environment]}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        return str(ready.json()["model_version"])

    def containers(self, environment: str) -> str:
        current = self.rollout.current(environment)
        assert current is not None
        return current.details.get("containers", "")

    def registry_digest(self, tag: str) -> str | None:
        """What the registry serves under ``tag``, or None when it has no such tag."""
        with credentials(self.target, self.tools) as authed:
            out = authed.run(authed.skopeo("inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                                           f"docker://{self.target.tagged(tag)}"), check=False).strip()
        return out or None


@contextmanager
def open_chain(tmp: Path, base_image: str, tools: ContainerTools) -> Iterator[Chain]:
    """The chain, torn down on exit: environments, registry, instance and the images it built."""
    password = uuid.uuid4().hex
    ports = {"preprod": free_port(), "prod": free_port()}
    repository = f"localhost/daystosell/chain-{uuid.uuid4().hex[:6]}"
    rollout = LocalRolloutResource(state_dir=str(tmp / "deploy"), preprod_port=ports["preprod"],
                                   prod_port=ports["prod"])
    with instance_for_test() as instance, \
            registry_script.running_registry(tmp / "registry", username=USER, password=password) as registry:
        registry_resource = RegistryResource(address=registry.address, username=USER, password=password)
        resources = {"registry": registry_resource, "rollout": rollout,
                     "image_builder": ImageBuilderResource(base_image=base_image, repository=repository)}
        local = rollout.rollout(tools, registry_resource.target())
        assert isinstance(local, LocalRollout)
        chain = Chain(tmp, instance, make_definitions(**resources), registry, password, local, ports, tools,
                      resources)
        try:
            yield chain
        finally:
            # A test may have restarted the registry: stop the one running now, not only the first.
            registry_script.stop_registry(chain.registry)
            chain.rollout.teardown()
            built = [f"{repository}:{version}" for version in set(chain.versions)]
            # What the rollout pulled from this registry, by digest: no tag to remove them by.
            listed = tools.run(tools.podman("images", "--format", "{{.Repository}} {{.ID}}"), check=False)
            pulled = {line.split()[1] for line in listed.splitlines()
                      if line.startswith(f"{chain.registry.address}/")}
            for image in [*built, *pulled]:
                tools.run(tools.podman("rmi", "--force", "--no-prune", image), check=False)


def materialised(result: Any) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def metadata_of(result: Any, asset: str) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)]
    return dict(event.materialization.metadata)


def check_results(result: Any) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
