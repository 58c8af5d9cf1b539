"""From a new bundle to production with no hands.

    mleap_bundle ─▶ service_image ─[golden test]─▶ published_image ─▶ preprod_deployment ─[smoke test]─▶ prod_deployment

The sensor watches ``mleap_bundle`` and requests one ``release`` run per bundle: the run key is the
bundle's content digest, so however often it is evaluated, one bundle is built once. The image is
built with buildah (the bundle its last layer), started with podman and checked against every golden
row plus the probes a cluster relies on; only then is it pushed, pinned by the digest the registry
reports, rendered into the kustomize overlays, and rolled out to pre-production and, once the smoke
test passes there, to production. Every check is blocking: a failure stops the chain where it is and
leaves what runs untouched.

Releases are ordered by the bundle's materialisation: an environment never moves back to an older
bundle unless a run asks for it (``allow_older``, the rollback), so of two bundles released at once the
newer wins and the older run stops before deploying, with nothing half-done.
"""

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    Backoff,
    Config,
    ConfigurableResource,
    DagsterInstance,
    EventLogEntry,
    Failure,
    MetadataValue,
    Output,
    RetryPolicy,
    RunRequest,
    SensorEvaluationContext,
    asset,
    asset_check,
    asset_sensor,
    define_asset_job,
)

from daystosell_assets.defs.automation import SENSOR_STATUS
from daystosell_assets.defs.owners import ML_PLATFORM
from daystosell_assets.release import (
    ContainerStartError,
    GoldenTestError,
    ImageLabels,
    build_image,
    prepare_build_context,
    run_container,
)
from daystosell_assets.release.images import default_base_image, layer_table
from daystosell_assets.release.kubectl import KubectlRollout
from daystosell_assets.release.local_rollout import DEFAULT_STABLE_PORTS, DEFAULT_STATE, LocalRollout
from daystosell_assets.release.manifests import render_manifests, validate_manifests
from daystosell_assets.release.registry import LOCAL_REGISTRY, RegistryTarget, credentials, is_loopback, publish
from daystosell_assets.release.rollout import Deployment, Release, Rollout, Superseded
from daystosell_assets.release.tools import ContainerTools
from daystosell_assets.release.verification import Verification, verify_service
from daystosell_assets.resources import PROJECT_ROOT, LakeResource
from daystosell_service.golden import GOLDEN_FILE, GoldenRow, read_golden

# Release steps hand each other small records, not Spark data: they keep them in the instance's storage.
RELEASE_IO_MANAGER = "release_io_manager"
SERVING = "serving"
BUNDLE = AssetKey("mleap_bundle")
# The smoke test sends this many golden rows to an environment (all of them go to the image before the push).
SMOKE_ROWS = 50


class ImageBuilderResource(ConfigurableResource):
    """Where service images come from and what they are called locally."""

    base_image: str = default_base_image()
    repository: str = "localhost/daystosell/service"
    # Rebuild every layer, not only the model's: for a base image or dependency fixed under the same name.
    no_cache: bool = False

    def tag(self, model_version: str) -> str:
        return f"{self.repository}:{model_version}"


class RegistryResource(ConfigurableResource):
    """The OCI registry images are published to; credentials from the environment (``EnvVar``)."""

    address: str = LOCAL_REGISTRY
    repository: str = "daystosell/service"
    # None: verify TLS everywhere but on loopback, where the local registry speaks plain HTTP.
    tls_verify: bool | None = None
    username: str | None = None
    password: str | None = None

    def target(self) -> RegistryTarget:
        tls = (not is_loopback(self.address)) if self.tls_verify is None else self.tls_verify
        return RegistryTarget(self.address, self.repository, tls, self.username, self.password)


class RolloutResource(ConfigurableResource):
    """Carries a release into an environment: ``LocalRolloutResource`` or ``KubernetesRolloutResource``."""

    def rollout(self, tools: ContainerTools, registry: RegistryTarget) -> Rollout:
        raise NotImplementedError


class LocalRolloutResource(RolloutResource):
    """Environments as podman containers on loopback behind nginx on stable ports (no cluster here)."""

    state_dir: str = str(DEFAULT_STATE)
    preprod_port: int = DEFAULT_STABLE_PORTS["preprod"]
    prod_port: int = DEFAULT_STABLE_PORTS["prod"]

    def rollout(self, tools: ContainerTools, registry: RegistryTarget) -> Rollout:
        return LocalRollout(Path(self.state_dir), {"preprod": self.preprod_port, "prod": self.prod_port},
                            tools=tools, tls_verify=registry.tls_verify)


class KubernetesRolloutResource(RolloutResource):
    """``kubectl apply`` of the rendered overlay to the configured cluster, then ``rollout status``."""

    kubectl: str = "kubectl"
    kubeconfig: str | None = None
    context: str | None = None
    rollout_timeout_seconds: int = 300

    def rollout(self, tools: ContainerTools, registry: RegistryTarget) -> Rollout:
        # The cluster pulls the image itself, with the namespace's imagePullSecrets.
        return KubectlRollout(kubectl=self.kubectl, kubeconfig=self.kubeconfig, context=self.context,
                              rollout_timeout=float(self.rollout_timeout_seconds))


class ReleaseConfig(Config):
    # Empty: the newest mleap_bundle. A model version: that bundle (with allow_older, a rollback).
    model_version: str = ""
    # Deploy even where a newer bundle runs: a deliberate rollback.
    allow_older: bool = False


@dataclass(frozen=True)
class BundleRef:
    """One materialisation of ``mleap_bundle``: what the release chain is about."""

    bundle_dir: str  # a lake location (a path or s3:// URI)
    model_version: str
    bundle_digest: str
    sequence: int  # the materialisation's event id: newer bundles have larger ones


@dataclass(frozen=True)
class Candidate:
    """The image built for a bundle, and how the run that built it was asked to release it."""

    bundle: BundleRef
    image: str
    allow_older: bool


@dataclass(frozen=True)
class Published:
    bundle: BundleRef
    release: Release
    allow_older: bool


def _bundle_ref(entry: EventLogEntry, storage_id: int) -> BundleRef:
    materialization = entry.asset_materialization
    assert materialization is not None
    metadata = materialization.metadata
    return BundleRef(bundle_dir=str(metadata["bundle_dir"].value), model_version=str(metadata["model_version"].value),
                     bundle_digest=str(metadata["bundle_digest"].value), sequence=storage_id)


def source_commit() -> str:
    if commit := os.environ.get("DAYSTOSELL_SOURCE_COMMIT"):
        return commit
    done = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def find_bundle(instance: DagsterInstance, model_version: str = "") -> BundleRef:
    """The newest ``mleap_bundle`` materialisation, or the newest with ``model_version``."""
    cursor = None
    while True:
        page = instance.fetch_materializations(BUNDLE, limit=100, cursor=cursor)
        for record in page.records:
            bundle = _bundle_ref(record.event_log_entry, record.storage_id)
            if not model_version or bundle.model_version == model_version:
                return bundle
        if not page.has_more:
            break
        cursor = page.cursor
    wanted = f"model version {model_version!r}" if model_version else "any bundle"
    raise Failure(f"no mleap_bundle materialisation found for {wanted}: materialise mleap_bundle first "
                  "(the retrain job), or pick a version listed on its asset page")


def read_bundle_golden(lake: LakeResource, bundle: BundleRef) -> list[GoldenRow]:
    with tempfile.TemporaryDirectory(prefix="daystosell-golden-") as tmp:
        return read_golden(lake.fetch(bundle.bundle_dir, Path(tmp)) / GOLDEN_FILE)


@asset(group_name=SERVING, kinds={"docker"}, deps=[BUNDLE], io_manager_key=RELEASE_IO_MANAGER, owners=ML_PLATFORM,
       code_version="1",
       description="The scoring-service image with the bundle and its golden rows as its last layer, built with "
                   "buildah; the golden-test check runs it before anything is published.")
def service_image(context: AssetExecutionContext, config: ReleaseConfig, image_builder: ImageBuilderResource,
                  lake: LakeResource) -> Output[Candidate]:
    bundle = find_bundle(context.instance, config.model_version)
    context.log.info(f"building the image of model {bundle.model_version} (bundle {bundle.bundle_digest[:19]})")
    tag = image_builder.tag(bundle.model_version)
    with tempfile.TemporaryDirectory(prefix="daystosell-image-") as tmp:
        bundle_dir = lake.fetch(bundle.bundle_dir, Path(tmp) / "bundle")
        build_dir = prepare_build_context(bundle_dir, Path(tmp) / "context")
        labels = ImageLabels(model_version=bundle.model_version, bundle_digest=bundle.bundle_digest,
                             source_commit=source_commit())
        image = build_image(build_dir, tag, image_builder.base_image, labels, logger=context.log,
                            no_cache=image_builder.no_cache)
    return Output(Candidate(bundle, image.tag, config.allow_older), metadata={
        "image": image.tag, "image_id": image.image_id, "size_mb": round(image.size_bytes / 1e6, 1),
        "layers": MetadataValue.md(layer_table(image.tag)), "build_seconds": round(image.seconds, 1),
        "base_image": image_builder.base_image, "model_version": bundle.model_version,
        "bundle_digest": bundle.bundle_digest, "bundle_sequence": bundle.sequence,
    })


def _verification_result(verification: Verification, where: str, seconds: float) -> AssetCheckResult:
    return AssetCheckResult(
        passed=verification.passed,
        description=(f"{where}: every probe and golden row passed" if verification.passed
                     else f"{where} failed: " + "; ".join(verification.failures())[:2000]),
        metadata={"probes": MetadataValue.md(verification.table()), "golden_rows": verification.golden.rows,
                  "mismatches": len(verification.golden.mismatches),
                  "max_rel_error": verification.golden.max_rel_error, "seconds": round(seconds, 1)})


@asset_check(asset=service_image, blocking=True,
             description="Runs the image with podman (read-only root filesystem) and sends it every golden "
                         "row (each within 1e-9 of Spark's prediction), plus the readiness, liveness and "
                         "error-path probes. Nothing is pushed unless it passes.")
def golden_test(context: AssetCheckExecutionContext, service_image: Candidate,
                lake: LakeResource) -> AssetCheckResult:
    bundle = service_image.bundle
    golden = read_bundle_golden(lake, bundle)
    started = time.monotonic()
    try:
        # As the cluster runs it: read-only root filesystem (the manifests' securityContext).
        with run_container(service_image.image, flags=["--read-only"], logger=context.log) as url:
            verification = verify_service(url, golden, bundle.model_version, bundle.bundle_digest)
    except (ContainerStartError, GoldenTestError) as error:
        # The service checks its own golden rows before it reports ready: a bundle it cannot reproduce
        # never becomes ready, and its log says which row disagreed.
        context.log.error(str(error))
        return AssetCheckResult(passed=False, description=f"image {service_image.image} never served: {error}"[:4000],
                                metadata={"seconds": round(time.monotonic() - started, 1)})
    context.log.info(verification.golden.summary())
    return _verification_result(verification, f"image {service_image.image}", time.monotonic() - started)


@asset(group_name=SERVING, kinds={"docker"}, io_manager_key=RELEASE_IO_MANAGER, owners=ML_PLATFORM, code_version="1",
       retry_policy=RetryPolicy(max_retries=2, delay=2, backoff=Backoff.EXPONENTIAL),
       description="The tested image pushed to the registry, pinned by the digest the registry reports.")
def published_image(context: AssetExecutionContext, service_image: Candidate,
                    registry: RegistryResource) -> Output[Published]:
    target = registry.target()
    bundle = service_image.bundle
    started = time.monotonic()
    digest = publish(service_image.image, target, bundle.model_version, logger=context.log)
    release = Release(image=target.pinned(digest), model_version=bundle.model_version,
                      bundle_digest=bundle.bundle_digest, sequence=bundle.sequence)
    return Output(Published(bundle, release, service_image.allow_older), metadata={
        "image": MetadataValue.text(release.image), "digest": digest, "registry": target.address,
        "tag": target.tagged(bundle.model_version), "push_seconds": round(time.monotonic() - started, 1),
        "model_version": bundle.model_version,
    })


@dataclass(frozen=True)
class Rolled:
    """An environment after a rollout, with the release that got it there (the next environment's input)."""

    published: Published
    deployment: Deployment


def roll_out(context: AssetExecutionContext, environment: str, published: Published,
             rollout: RolloutResource, registry: RegistryResource) -> Iterator[Output[Rolled]]:
    """Renders the overlay for ``published``, validates it and rolls ``environment`` to it; yields
    nothing (so later environments are skipped) when a newer bundle already runs there."""
    release = published.release
    rendered_dir = PROJECT_ROOT / ".state" / "deploy" / "rendered"
    rendered_dir.mkdir(parents=True, exist_ok=True)
    rendered = render_manifests(environment, release, rendered_dir / f"{environment}-{release.model_version}.yaml")
    problems = validate_manifests(rendered.documents)
    if problems:
        raise Failure(f"the rendered {environment} manifests are invalid: " + "; ".join(problems),
                      metadata={"manifests": MetadataValue.path(str(rendered.path))})
    started = time.monotonic()
    target = registry.target()
    with credentials(target, ContainerTools.from_env()) as tools:
        try:
            deployment = rollout.rollout(tools, target).deploy(environment, release, rendered.path,
                                                       allow_older=published.allow_older, logger=context.log)
        except Superseded as superseded:
            context.log.warning(f"{superseded}: this run stops here and leaves {environment} as it is")
            return
    yield Output(Rolled(published, deployment), metadata={
        "url": MetadataValue.url(deployment.url), "model_version": release.model_version,
        "bundle_dir": MetadataValue.path(published.bundle.bundle_dir), "image": MetadataValue.text(release.image),
        "manifests": MetadataValue.path(str(rendered.path)),
        "rollout_seconds": round(time.monotonic() - started, 1),
        **{k: MetadataValue.text(v) for k, v in deployment.details.items()},
    })


def smoke_test(context: AssetCheckExecutionContext, rolled: Rolled, lake: LakeResource) -> AssetCheckResult:
    """The environment answers every probe and a spread sample of the golden rows."""
    bundle, deployment = rolled.published.bundle, rolled.deployment
    golden = read_bundle_golden(lake, bundle)
    sample = golden[::max(1, len(golden) // SMOKE_ROWS)][:SMOKE_ROWS]
    started = time.monotonic()
    verification = verify_service(deployment.url, sample, bundle.model_version, bundle.bundle_digest)
    where = f"{deployment.environment} at {deployment.url}"
    context.log.info(f"{where}: " + ("passed" if verification.passed else "; ".join(verification.failures())))
    return _verification_result(verification, where, time.monotonic() - started)


@asset(group_name=SERVING, kinds={"kubernetes"}, io_manager_key=RELEASE_IO_MANAGER, output_required=False,
       owners=ML_PLATFORM, code_version="1",
       description="Pre-production running the published image (the kustomize overlay deploy/k8s/overlays/preprod).")
def preprod_deployment(context: AssetExecutionContext, published_image: Published, rollout: RolloutResource,
                       registry: RegistryResource) -> Iterator[Output[Rolled]]:
    yield from roll_out(context, "preprod", published_image, rollout, registry)


@asset_check(asset=preprod_deployment, blocking=True,
             description="Pre-production answers the probes and a sample of golden rows; production waits for it.")
def preprod_smoke_test(context: AssetCheckExecutionContext, preprod_deployment: Rolled,
                       lake: LakeResource) -> AssetCheckResult:
    return smoke_test(context, preprod_deployment, lake)


@asset(group_name=SERVING, kinds={"kubernetes"}, io_manager_key=RELEASE_IO_MANAGER, output_required=False,
       owners=ML_PLATFORM, code_version="1",
       description="Production running the image pre-production passed with (deploy/k8s/overlays/prod).")
def prod_deployment(context: AssetExecutionContext, preprod_deployment: Rolled, rollout: RolloutResource,
                    registry: RegistryResource) -> Iterator[Output[Rolled]]:
    yield from roll_out(context, "prod", preprod_deployment.published, rollout, registry)


@asset_check(asset=prod_deployment, blocking=True,
             description="Production answers the probes and a sample of golden rows with the new model.")
def prod_smoke_test(context: AssetCheckExecutionContext, prod_deployment: Rolled,
                    lake: LakeResource) -> AssetCheckResult:
    return smoke_test(context, prod_deployment, lake)


RELEASE_ASSETS = [service_image, published_image, preprod_deployment, prod_deployment]
RELEASE_CHECKS = [golden_test, preprod_smoke_test, prod_smoke_test]

release = define_asset_job(
    "release", selection=AssetSelection.assets(*RELEASE_ASSETS),
    description="Build the scoring image for a bundle, test it against the golden rows, push it, and roll it out "
                "to pre-production and then production: every check blocking.")


@asset_sensor(asset_key=BUNDLE, job=release, minimum_interval_seconds=30, default_status=SENSOR_STATUS,
              description="One release run per new bundle, keyed on the bundle's content digest.")
def mleap_bundle_sensor(context: SensorEvaluationContext, asset_event: EventLogEntry) -> RunRequest:
    materialization = asset_event.asset_materialization
    assert materialization is not None
    version = str(materialization.metadata["model_version"].value)
    digest = str(materialization.metadata["bundle_digest"].value)
    # The version pins the run to this bundle, even if a newer one lands before the run starts.
    return RunRequest(run_key=digest, run_config={"ops": {"service_image": {"config": {"model_version": version}}}},
                      tags={"daystosell/model_version": version, "daystosell/bundle_digest": digest})
