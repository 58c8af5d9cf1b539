"""The scoring service's Kubernetes manifests, rendered for one release and checked offline.

``deploy/k8s`` holds a kustomize base and one overlay per environment, with the image named by the
placeholder ``daystosell-service``. ``render_manifests`` copies that tree, pins the release's image by
digest with the real ``kustomize edit set image``, stamps the release's facts on the Deployment and its
pods as annotations, and writes ``kustomize build``'s output to one YAML file: exactly what
``kubectl apply -f`` gets (``daystosell_assets.release.kubectl``).

No API server runs here, so ``validate_manifests`` checks the rendered documents against the
Kubernetes OpenAPI schemas that ``kubernetes_validate`` ships (strict: unknown fields fail, as a
server's field validation would reject them), plus a few rules of our own that the schemas cannot
express (a digest-pinned image, a non-root read-only container, probes, resources, replicas).

    rendered = render_manifests("preprod", release, work / "preprod.yaml")
    problems = validate_manifests(rendered.documents)
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from daystosell_assets.release.build_context import REPO_ROOT
from daystosell_assets.release.errors import ReleaseError, ToolFailedError, ToolMissingError
from daystosell_assets.release.rollout import Release
from daystosell_assets.release.tools import LineLog

log = logging.getLogger(__name__)

OVERLAYS = ("preprod", "prod")
DEPLOY_ROOT = REPO_ROOT / "deploy" / "k8s"
KUSTOMIZE = REPO_ROOT / ".state" / "bin" / "kustomize"
# The image name the base's Deployment uses, replaced at render time.
IMAGE_PLACEHOLDER = "daystosell-service"
DEPLOYMENT_NAME = "daystosell-service"
# The newest Kubernetes whose schemas kubernetes-validate 1.37.0 ships.
KUBERNETES_VERSION = "1.37.0"
MIN_REPLICAS = 2

ANNOTATION_MODEL_VERSION = "daystosell.io/model-version"
ANNOTATION_BUNDLE_DIGEST = "daystosell.io/bundle-digest"
ANNOTATION_SEQUENCE = "daystosell.io/bundle-sequence"

_PINNED = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
_RELEASE_PATCH = "release-annotations.yaml"


class ManifestError(ReleaseError):
    """The manifests could not be rendered."""


class UnpinnedImageError(ManifestError, ValueError):
    """A tag can be moved to another image after the tests ran; only a digest names what was tested."""


class UnknownOverlayError(ManifestError, ValueError):
    pass


@dataclass(frozen=True)
class RenderedManifests:
    """One overlay rendered for one release: the YAML file at ``path`` and its parsed ``documents``."""

    overlay: str
    path: Path
    documents: list[dict[str, Any]]

    def find(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        return [d for d in self.documents
                if d.get("kind") == kind and (name is None or d.get("metadata", {}).get("name") == name)]

    def deployment(self) -> dict[str, Any]:
        """The service's Deployment (there is exactly one; rendering checks it)."""
        found = self.find("Deployment", DEPLOYMENT_NAME)
        if len(found) != 1:
            raise ManifestError(f"{self.path}: expected one Deployment {DEPLOYMENT_NAME}, found {len(found)}")
        return found[0]

    def namespace(self) -> str:
        return str(self.deployment()["metadata"].get("namespace", ""))

    def images(self) -> list[str]:
        """The image of every container, init containers included, in every document."""
        return [str(c.get("image", "")) for doc in self.documents for c in _containers(doc)]


def is_pinned(image: str) -> bool:
    """``REGISTRY/REPO[:TAG]@sha256:<64 hex>``: the only form that names exactly one image."""
    return bool(_PINNED.match(image))


def kustomize_binary() -> str:
    """The kustomize scripts/setup.sh installs into .state/bin (a known version), else one on PATH."""
    if KUSTOMIZE.is_file() and KUSTOMIZE.stat().st_mode & 0o111:
        return str(KUSTOMIZE)
    found = shutil.which("kustomize")
    if found:
        return found
    raise ToolMissingError(
        f"kustomize not found at {KUSTOMIZE} nor on PATH: run scripts/setup.sh, which installs it "
        "from the Go module proxy into .state/bin"
    )


def render_manifests(overlay: str, release: Release, dest: Path, *, deploy_root: Path = DEPLOY_ROOT,
                     logger: LineLog = log) -> RenderedManifests:
    """Renders ``overlay`` for ``release`` into the single YAML file ``dest`` and returns it parsed.

    Works on a copy of ``deploy_root``: ``kustomize edit`` rewrites kustomization.yaml in place, and
    the checked-in tree must keep its placeholder (and stay untouched by concurrent renders)."""
    known = _overlays(deploy_root)
    if overlay not in known:
        raise UnknownOverlayError(
            f"unknown overlay {overlay!r}: {deploy_root / 'overlays'} has {', '.join(known) or 'none'}"
        )
    if not is_pinned(release.image):
        raise UnpinnedImageError(
            f"Release.image must be pinned by digest (REGISTRY/REPO@sha256:<64 hex digits>), got "
            f"{release.image!r}: use the digest the registry returned when the image was pushed"
        )
    kustomize = kustomize_binary()
    with tempfile.TemporaryDirectory(prefix="daystosell-k8s-") as tmp:
        tree = Path(tmp) / "k8s"
        shutil.copytree(deploy_root, tree)
        overlay_dir = tree / "overlays" / overlay
        try:
            _run([kustomize, "edit", "set", "image", f"{IMAGE_PLACEHOLDER}={release.image}"], overlay_dir, logger)
            (overlay_dir / _RELEASE_PATCH).write_text(yaml.safe_dump(_release_patch(release), sort_keys=True))
            _run([kustomize, "edit", "add", "patch", "--path", _RELEASE_PATCH,
                  "--kind", "Deployment", "--name", DEPLOYMENT_NAME], overlay_dir, logger)
            rendered = _run([kustomize, "build", "."], overlay_dir, logger, quiet=True)
        except ManifestError as e:
            # Name the files in deploy_root, not in the copy that is gone by the time anyone reads this.
            raise ManifestError(str(e).replace(str(tree), str(deploy_root))) from e
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    result = RenderedManifests(overlay=overlay, path=dest, documents=documents)
    _check_rendered(result, release)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(rendered)
    logger.info(f"rendered overlay {overlay} for {release.image} into {dest} ({len(documents)} documents)")
    return result


def release_annotations(release: Release) -> dict[str, str]:
    """What a cluster's Deployment says about the release it runs (``KubectlRollout.current`` reads them)."""
    return {
        ANNOTATION_MODEL_VERSION: release.model_version,
        ANNOTATION_BUNDLE_DIGEST: release.bundle_digest,
        ANNOTATION_SEQUENCE: str(release.sequence),
    }


def _release_patch(release: Release) -> dict[str, Any]:
    """A strategic-merge patch putting the annotations on the Deployment and on its pod template:
    on the pods, so ``kubectl get pods`` shows what each one serves during a rollout."""
    annotations = release_annotations(release)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT_NAME, "annotations": annotations},
        "spec": {"template": {"metadata": {"annotations": annotations}}},
    }


def _overlays(deploy_root: Path) -> list[str]:
    folder = deploy_root / "overlays"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "kustomization.yaml").is_file())


def _run(cmd: Sequence[str], cwd: Path, logger: LineLog, *, quiet: bool = False, timeout: float = 120) -> str:
    """Runs kustomize and returns its stdout; on failure raises with its stderr, which names the
    offending file and field."""
    logger.info(f"$ {' '.join(cmd)}")
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise ToolFailedError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f} s") from e
    if not quiet:
        for line in proc.stdout.splitlines():
            logger.info(f"kustomize | {line}")
    if proc.returncode != 0:
        why = proc.stderr.strip() or proc.stdout.strip()
        raise ManifestError(
            f"`{' '.join(cmd)}` exited with {proc.returncode} in {cwd}:\n{why}\n"
            "Check the kustomization files under deploy/k8s (`kustomize build deploy/k8s/overlays/<env>`)."
        )
    return proc.stdout


def _check_rendered(rendered: RenderedManifests, release: Release) -> None:
    """Fails the render, not the rollout, when an overlay lost the Deployment or left a container on
    another image (a second container, a typo in the image name, a patch replacing the image)."""
    rendered.deployment()
    wrong = sorted({image for image in rendered.images() if image != release.image})
    if wrong:
        raise ManifestError(
            f"overlay {rendered.overlay}: containers still use {', '.join(wrong)} instead of {release.image}: "
            f"every container must use the image name {IMAGE_PLACEHOLDER!r} in deploy/k8s"
        )


# --- validation -----------------------------------------------------------------------------------


def validate_manifests(documents: Iterable[dict[str, Any]], kubernetes_version: str = KUBERNETES_VERSION, *,
                       policy: bool = True) -> list[str]:
    """Problems with ``documents``, one human sentence each (empty when they are fine): strict schema
    validation against ``kubernetes_version``, then, with ``policy``, ``check_policy``'s rules."""
    documents = list(documents)
    problems = [p for doc in documents for p in _schema_problems(doc, kubernetes_version)]
    if policy:
        problems += check_policy(documents)
    return problems


def _schema_problems(doc: dict[str, Any], kubernetes_version: str) -> list[str]:
    # Imported here: it is a dev dependency (pyproject.toml), and rendering must work without it.
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import VersionNotSupportedError
    except ImportError as e:
        raise ToolMissingError(
            "kubernetes-validate is not installed: run scripts/setup.sh (it installs the dev extras), "
            "or pip install kubernetes-validate==1.37.0"
        ) from e
    where = _describe(doc)
    if "apiVersion" not in doc or "kind" not in doc:
        return [f"{where}: not a Kubernetes object (apiVersion and kind are required)"]
    try:
        kubernetes_validate.validate(doc, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as e:
        field = _field_path(e.absolute_path) or "(top level)"
        return [f"{where}: {field}: {e.message} (Kubernetes {e.version} schema)"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [f"{where}: {e.message}: Kubernetes would reject a kind it does not know"]
    except VersionNotSupportedError as e:
        raise ValueError(
            f"kubernetes_validate has no schemas for Kubernetes {kubernetes_version}; the newest it has "
            f"is {kubernetes_validate.latest_version()}"
        ) from e
    return []


def _field_path(path: Iterable[Any]) -> str:
    """``spec.template.spec.containers[0].image`` from jsonschema's ``['spec', ..., 0, 'image']``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name", "<unnamed>") if meta else "<unnamed>"
    namespace = meta.get("namespace") if meta else None
    return f"{doc.get('kind', '<no kind>')} {f'{namespace}/' if namespace else ''}{name}"


def check_policy(documents: Iterable[dict[str, Any]]) -> list[str]:
    """Rules the schemas cannot express, for every Deployment: what a scoring service must be to run
    in our clusters (and what Pod Security's ``restricted`` level would enforce anyway)."""
    deployments = [d for d in documents if d.get("kind") == "Deployment"]
    if not deployments:
        return ["no Deployment in the manifests"]
    return [p for d in deployments for p in _deployment_problems(d)]


def _deployment_problems(deployment: dict[str, Any]) -> list[str]:
    where = _describe(deployment)
    spec = _dict(deployment.get("spec"))
    pod = _dict(_dict(spec.get("template")).get("spec"))
    pod_security = _dict(pod.get("securityContext"))
    problems = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < MIN_REPLICAS:
        problems.append(f"{where}: spec.replicas is {replicas!r}, must be at least {MIN_REPLICAS} "
                        "(one pod is an outage on every node drain)")
    containers = _dict_list(pod.get("containers"))
    if not containers:
        problems.append(f"{where}: spec.template.spec.containers is empty")
    for kind, items in (("containers", containers), ("initContainers", _dict_list(pod.get("initContainers")))):
        for i, container in enumerate(items):
            at = f"{where}: spec.template.spec.{kind}[{i}] ({container.get('name', '?')})"
            problems += [f"{at}: {p}" for p in _container_problems(container, pod_security,
                                                                    probes=kind == "containers")]
    return problems


def _container_problems(container: dict[str, Any], pod_security: dict[str, Any], *, probes: bool) -> list[str]:
    security = _dict(container.get("securityContext"))
    problems = []
    image = str(container.get("image", ""))
    if not is_pinned(image):
        problems.append(f"image {image!r} is not pinned by digest (REGISTRY/REPO@sha256:...)")
    if security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is not True:
        problems.append("securityContext.runAsNonRoot must be true (here or in the pod's securityContext)")
    if security.get("readOnlyRootFilesystem") is not True:
        problems.append("securityContext.readOnlyRootFilesystem must be true (mount an emptyDir where it writes)")
    if security.get("allowPrivilegeEscalation") is not False:
        problems.append("securityContext.allowPrivilegeEscalation must be false")
    if security.get("privileged") is True:
        problems.append("securityContext.privileged must not be true")
    if "ALL" not in (_dict(security.get("capabilities")).get("drop") or []):
        problems.append("securityContext.capabilities.drop must include ALL")
    if probes:
        problems += [f"{probe} is missing" for probe in ("readinessProbe", "livenessProbe") if probe not in container]
    resources = _dict(container.get("resources"))
    for section in ("requests", "limits"):
        missing = [r for r in ("cpu", "memory") if r not in _dict(resources.get(section))]
        if missing:
            problems.append(f"resources.{section} lacks {', '.join(missing)}")
    return problems


def _containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Containers of a workload's pod template (Deployment, StatefulSet, Job...) or of a Pod."""
    spec = _dict(doc.get("spec"))
    pod = _dict(_dict(spec.get("template")).get("spec")) if "template" in spec else spec
    for kind in ("initContainers", "containers"):
        yield from _dict_list(pod.get(kind))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dict_list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
