"""What a rollout is, whichever platform carries it out.

A ``Release`` is one tested image pinned by digest plus the bundle it serves; a ``Rollout`` puts a
release into an environment (``preprod``, then ``prod``) and says what each environment runs now.
Two implementations:

- ``daystosell_assets.release.kubectl.KubectlRollout``: ``kubectl apply`` of the rendered kustomize
  overlay against the configured cluster, then ``kubectl rollout status``;
- ``daystosell_assets.release.local_rollout.LocalRollout``: each environment as podman containers on
  loopback behind an nginx on a stable port, for the embedded default and the tests (no Kubernetes
  API server runs here).

Releases are ordered by ``sequence`` (the ``mleap_bundle`` materialisation's event id): an
environment never moves to an older release unless asked to (a rollback), so when two bundles race
through the chain the newer one wins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from daystosell_assets.release.tools import LineLog

ENVIRONMENTS = ("preprod", "prod")


@dataclass(frozen=True)
class Release:
    image: str  # pinned by digest: registry/repository@sha256:...
    model_version: str
    bundle_digest: str
    sequence: int  # newer bundles have larger numbers

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Release:
        return cls(image=str(data["image"]), model_version=str(data["model_version"]),
                   bundle_digest=str(data["bundle_digest"]), sequence=int(data["sequence"]))


@dataclass(frozen=True)
class Deployment:
    """What an environment runs after a rollout."""

    environment: str
    release: Release
    url: str  # where the environment's service answers (the stable port locally, the Service's URL in a cluster)
    details: dict[str, str] = field(default_factory=dict)  # implementation facts worth showing (containers, pods)


class Superseded(Exception):
    """The environment already runs a newer release: this one must not replace it."""

    def __init__(self, environment: str, running: Release, offered: Release) -> None:
        super().__init__(
            f"{environment} already runs model {running.model_version} (bundle sequence {running.sequence}), "
            f"newer than {offered.model_version} (sequence {offered.sequence}); not rolling back without "
            "allow_older (a deliberate rollback)"
        )
        self.environment, self.running, self.offered = environment, running, offered


class Rollout(Protocol):
    def current(self, environment: str) -> Deployment | None:
        """What ``environment`` runs now, or None before its first rollout."""
        ...

    def deploy(self, environment: str, release: Release, manifests: Path, *, allow_older: bool = False,
               logger: LineLog) -> Deployment:
        """Rolls ``environment`` to ``release`` (``manifests``: the rendered overlay, one YAML file) and
        returns once the new version serves and the old one is gone. Raises ``Superseded`` when the
        environment already runs a newer release and ``allow_older`` is false; the check and the
        switch are one step, so two rollouts cannot interleave."""
        ...
