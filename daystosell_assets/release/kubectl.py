"""Rollouts to a Kubernetes cluster with kubectl: the cluster path of ``daystosell_assets.release.rollout``.

``KubectlRollout.deploy`` applies the manifests ``render_manifests`` wrote for the environment
(``kubectl apply -f``) and waits for ``kubectl rollout status``; the Deployment's rolling update
(maxUnavailable 0, readiness on a loaded model) means the old pods serve until the new ones are
ready. What an environment runs is read back from the Deployment's annotations
(``daystosell.io/model-version``, ``bundle-digest``, ``bundle-sequence``) and its container image.

No Kubernetes API server (and no kubectl) can run on the machines that test this project, so
``daystosell_tests/release/test_manifests.py`` runs it against a recording stand-in executable that
answers ``kubectl get`` from a file: the command lines and the decisions are tested, a cluster's
behaviour is not. Point it at a real cluster with ``kubeconfig``/``context``.

The newer-release check and the apply are two calls, not one transaction: rollouts of one
environment must be serialised by the caller (one Dagster run at a time per environment). A rollout
that raced another anyway is detected afterwards, when the Deployment no longer carries its sequence.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from daystosell_assets.release.errors import ReleaseError, ToolMissingError
from daystosell_assets.release.manifests import (
    ANNOTATION_BUNDLE_DIGEST,
    ANNOTATION_MODEL_VERSION,
    ANNOTATION_SEQUENCE,
    DEPLOYMENT_NAME,
)
from daystosell_assets.release.rollout import ENVIRONMENTS, Deployment, Release, Rollout, Superseded
from daystosell_assets.release.tools import LineLog

log = logging.getLogger(__name__)

CONTAINER_NAME = "service"


class KubectlError(ReleaseError):
    """kubectl failed, or the cluster holds something this rollout cannot make sense of."""


class RolloutFailedError(KubectlError):
    """The new pods never became ready; the Deployment is left mid-rollout (old pods still serve)."""


class ManifestMismatchError(KubectlError, ValueError):
    """The manifests file was rendered for another environment or another release."""


def default_namespace(environment: str) -> str:
    return f"daystosell-{environment}"


def default_service_url(environment: str) -> str:
    return f"http://daystosell-service.{default_namespace(environment)}.svc.cluster.local"


@dataclass(frozen=True)
class KubectlRollout:
    """``Rollout`` on the cluster ``kubeconfig``/``context`` point at (kubectl's defaults when None)."""

    kubectl: str = "kubectl"
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: Mapping[str, str] = field(default_factory=dict)  # environment -> namespace
    service_urls: Mapping[str, str] = field(default_factory=dict)  # environment -> URL
    rollout_timeout: float = 600.0  # seconds `kubectl rollout status` waits
    command_timeout: float = 120.0  # seconds any other kubectl call may take

    def namespace(self, environment: str) -> str:
        self._check_environment(environment)
        return self.namespaces.get(environment, default_namespace(environment))

    def service_url(self, environment: str) -> str:
        self._check_environment(environment)
        return self.service_urls.get(environment, default_service_url(environment))

    def command(self, *args: str) -> list[str]:
        """A kubectl command line with the configured cluster, so every call talks to the same one."""
        flags = [*(["--kubeconfig", self.kubeconfig] if self.kubeconfig else []),
                 *(["--context", self.context] if self.context else [])]
        return [self.kubectl, *flags, *args]

    def current(self, environment: str, *, logger: LineLog = log) -> Deployment | None:
        """What ``environment``'s Deployment runs, from its annotations; None when it does not exist."""
        namespace = self.namespace(environment)
        cmd = self.command("get", "deployment", DEPLOYMENT_NAME, "-n", namespace, "-o", "json")
        proc = self._run(cmd, logger, quiet=True)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise KubectlError(
                f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{_output(proc)}\n"
                "Check the kubeconfig and context point at the right cluster and that this identity may "
                f"read deployments in {namespace}."
            )
        try:
            live = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            raise KubectlError(f"`{' '.join(cmd)}` did not print JSON: {e}") from e
        return Deployment(environment=environment, release=_release_of(live, namespace),
                          url=self.service_url(environment), details=self._details(live, namespace))

    def deploy(self, environment: str, release: Release, manifests: Path, *, allow_older: bool = False,
               logger: LineLog = log) -> Deployment:
        """Applies ``manifests`` to ``environment`` and waits until the rollout completes."""
        namespace = self.namespace(environment)
        _check_manifests(manifests, release, namespace)
        running = self.current(environment, logger=logger)
        if running is not None and running.release.sequence > release.sequence and not allow_older:
            raise Superseded(environment, running.release, release)
        logger.info(f"{environment}: rolling {DEPLOYMENT_NAME} in {namespace} to model {release.model_version} "
                    f"(sequence {release.sequence}, {release.image})")
        self._checked(self.command("apply", "-n", namespace, "-f", str(manifests)), logger, KubectlError,
                      "Nothing was rolled out if the Deployment is unchanged; fix the error above and rerun.")
        undo = " ".join(self.command("rollout", "undo", f"deployment/{DEPLOYMENT_NAME}", "-n", namespace))
        self._checked(
            self.command("rollout", "status", f"deployment/{DEPLOYMENT_NAME}", "-n", namespace,
                         f"--timeout={int(self.rollout_timeout)}s"),
            logger, RolloutFailedError,
            f"The new pods did not become ready; the previous ones keep serving. See why with `kubectl get pods "
            f"-n {namespace}` and `kubectl describe`/`logs` on the new pods, then go back with `{undo}`.",
            timeout=self.rollout_timeout + 30,
        )
        now = self.current(environment, logger=logger)
        if now is None or now.release.sequence != release.sequence:
            raise KubectlError(
                f"{environment}: after the rollout the Deployment runs "
                f"{'nothing' if now is None else f'sequence {now.release.sequence}'}, not {release.sequence}: "
                "another rollout ran at the same time; run the release again once it has finished"
            )
        logger.info(f"{environment}: {DEPLOYMENT_NAME} serves model {release.model_version} at {now.url}")
        return now

    # --- helpers ----------------------------------------------------------------------------------

    def _check_environment(self, environment: str) -> None:
        if environment not in ENVIRONMENTS and environment not in self.namespaces:
            raise ValueError(f"unknown environment {environment!r}: expected one of {', '.join(ENVIRONMENTS)}")

    def _run(self, cmd: Sequence[str], logger: LineLog, *, quiet: bool = False,
             timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Runs kubectl, logging the command line (and its output unless ``quiet``: JSON is noise)."""
        if shutil.which(cmd[0]) is None:
            raise ToolMissingError(
                f"{cmd[0]} not found: install a kubectl within one minor version of the cluster's, or pass "
                "KubectlRollout(kubectl=PATH)"
            )
        logger.info(f"$ {' '.join(cmd)}")
        limit = timeout or self.command_timeout
        try:
            proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired as e:
            raise KubectlError(f"`{' '.join(cmd)}` did not finish within {limit:.0f} s: is the cluster reachable?") \
                from e
        if not quiet:
            for line in _output(proc).splitlines():
                logger.info(f"kubectl | {line}")
        return proc

    def _checked(self, cmd: Sequence[str], logger: LineLog, error: type[KubectlError], hint: str, *,
                 timeout: float | None = None) -> str:
        proc = self._run(cmd, logger, timeout=timeout)
        if proc.returncode != 0:
            raise error(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{_output(proc)}\n{hint}")
        return proc.stdout

    def _details(self, live: dict[str, Any], namespace: str) -> dict[str, str]:
        status = live.get("status") or {}
        details = {
            "namespace": namespace,
            "ready_replicas": f"{status.get('readyReplicas', 0)}/{(live.get('spec') or {}).get('replicas', 1)}",
            "generation": str((live.get("metadata") or {}).get("generation", "")),
        }
        if self.context:
            details["context"] = self.context
        return details


def _release_of(live: dict[str, Any], namespace: str) -> Release:
    """The release a live Deployment runs: its annotations, and its service container's image."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    containers = ((((live.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    images = [c.get("image") for c in containers if c.get("name") == CONTAINER_NAME] or \
        [c.get("image") for c in containers[:1]]
    missing = [a for a in (ANNOTATION_MODEL_VERSION, ANNOTATION_BUNDLE_DIGEST, ANNOTATION_SEQUENCE)
               if a not in annotations]
    if missing or not images:
        raise KubectlError(
            f"deployment/{DEPLOYMENT_NAME} in {namespace} lacks {', '.join(missing) or 'a container'}: it was "
            "not applied from rendered manifests (daystosell_assets.release.manifests.render_manifests). "
            "Apply a rendered release by hand or delete the Deployment, then rerun."
        )
    try:
        sequence = int(annotations[ANNOTATION_SEQUENCE])
    except ValueError as e:
        raise KubectlError(f"deployment/{DEPLOYMENT_NAME} in {namespace}: {ANNOTATION_SEQUENCE} is "
                           f"{annotations[ANNOTATION_SEQUENCE]!r}, not a number") from e
    return Release(image=str(images[0]), model_version=str(annotations[ANNOTATION_MODEL_VERSION]),
                   bundle_digest=str(annotations[ANNOTATION_BUNDLE_DIGEST]), sequence=sequence)


def _check_manifests(path: Path, release: Release, namespace: str) -> None:
    """Refuses a file rendered for another namespace or release before anything is applied: prod's
    Deployment must not land in preprod, nor last week's file go out as today's release."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except (OSError, yaml.YAMLError) as e:
        raise ManifestMismatchError(f"cannot read the manifests {path}: {e}") from e
    deployments = [d for d in documents if d.get("kind") == "Deployment"
                   and (d.get("metadata") or {}).get("name") == DEPLOYMENT_NAME]
    if len(deployments) != 1:
        raise ManifestMismatchError(f"{path} holds {len(deployments)} Deployments {DEPLOYMENT_NAME}, not one")
    try:
        rendered = _release_of(deployments[0], namespace)
    except KubectlError as e:
        raise ManifestMismatchError(f"{path}: {e}") from e
    if rendered != release:
        raise ManifestMismatchError(f"{path} was rendered for {rendered}, not {release}: render it again")
    elsewhere = sorted({str((d.get("metadata") or {}).get("namespace")) for d in documents
                        if (d.get("metadata") or {}).get("namespace") not in (None, namespace)})
    if elsewhere:
        raise ManifestMismatchError(
            f"{path} targets namespace {', '.join(elsewhere)}, not {namespace}: render the overlay of this environment"
        )


if TYPE_CHECKING:
    _protocol_check: Rollout = KubectlRollout()  # mypy proves it implements the protocol


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(s for s in (proc.stdout.strip(), proc.stderr.strip()) if s)
