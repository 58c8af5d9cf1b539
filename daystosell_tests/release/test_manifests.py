"""The Kubernetes manifests as rendered for a release (real kustomize, schemas of kubernetes-validate), and
``KubectlRollout`` against a recording stand-in for kubectl: no API server can run here."""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from daystosell_assets.release import ToolMissingError
from daystosell_assets.release import manifests as manifests_module
from daystosell_assets.release.kubectl import (
    KubectlError,
    KubectlRollout,
    ManifestMismatchError,
    RolloutFailedError,
)
from daystosell_assets.release.manifests import (
    ANNOTATION_BUNDLE_DIGEST,
    ANNOTATION_MODEL_VERSION,
    ANNOTATION_SEQUENCE,
    DEPLOY_ROOT,
    OVERLAYS,
    ManifestError,
    RenderedManifests,
    UnknownOverlayError,
    UnpinnedImageError,
    check_policy,
    kustomize_binary,
    render_manifests,
    validate_manifests,
)
from daystosell_assets.release.rollout import Release, Superseded

log = logging.getLogger("daystosell_tests.release")

DIGEST = "sha256:" + "5e" * 32
IMAGE = f"registry.example.com:5000/daystosell/service@{DIGEST}"
RELEASE = Release(image=IMAGE, model_version="2026-12-07.3", bundle_digest="sha256:" + "b1" * 32, sequence=42)
NAMESPACED = {"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderedManifests]:
    out = tmp_path_factory.mktemp("manifests")
    return {overlay: render_manifests(overlay, RELEASE, out / f"{overlay}.yaml", logger=log) for overlay in OVERLAYS}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = doc["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


# --- rendering ------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_and_passes_schema_and_policy(rendered: dict[str, RenderedManifests],
                                                           overlay: str) -> None:
    manifests = rendered[overlay]
    assert sorted(d["kind"] for d in manifests.documents) == sorted(NAMESPACED)
    assert validate_manifests(manifests.documents) == []
    # The file on disk is what kubectl gets: the same documents.
    assert [d for d in yaml.safe_load_all(manifests.path.read_text()) if d] == manifests.documents


def test_every_container_runs_the_release_image_by_digest(rendered: dict[str, RenderedManifests]) -> None:
    for manifests in rendered.values():
        images = [c["image"] for doc in manifests.documents if doc["kind"] == "Deployment" for c in containers(doc)]
        assert images == [IMAGE]
        assert manifests.images() == [IMAGE]
        assert "daystosell-service@" not in manifests.path.read_text()
        assert "image: daystosell-service\n" not in manifests.path.read_text()


def test_release_facts_are_annotations_on_the_deployment_and_its_pods(
        rendered: dict[str, RenderedManifests]) -> None:
    expected = {ANNOTATION_MODEL_VERSION: "2026-12-07.3", ANNOTATION_BUNDLE_DIGEST: "sha256:" + "b1" * 32,
                ANNOTATION_SEQUENCE: "42"}
    for manifests in rendered.values():
        deployment = manifests.deployment()
        for found in (deployment["metadata"]["annotations"],
                      deployment["spec"]["template"]["metadata"]["annotations"]):
            assert {k: found.get(k) for k in expected} == expected  # strings, "42" not 42
        # The pod template keeps the base's own annotations beside them.
        assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"


def test_namespaces_and_sizes_differ_per_overlay(rendered: dict[str, RenderedManifests]) -> None:
    for overlay, manifests in rendered.items():
        assert {d["metadata"]["namespace"] for d in manifests.documents} == {f"daystosell-{overlay}"}
    pre, prod = rendered["preprod"], rendered["prod"]
    hpa = {o: m.find("HorizontalPodAutoscaler")[0]["spec"] for o, m in rendered.items()}
    assert hpa["preprod"]["minReplicas"] >= 2
    assert hpa["prod"]["maxReplicas"] > hpa["preprod"]["maxReplicas"]
    assert prod.deployment()["spec"]["replicas"] >= pre.deployment()["spec"]["replicas"] >= 2
    assert prod.find("PodDisruptionBudget")[0]["spec"]["minAvailable"] < prod.deployment()["spec"]["replicas"]


def test_the_deployment_rolls_without_losing_capacity_and_probes_the_service(
        rendered: dict[str, RenderedManifests]) -> None:
    deployment = rendered["prod"].deployment()
    spec = deployment["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    (container,) = spec["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert {"name": "PORT", "value": "8080"} in container["env"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["runAsGroup"] == 10001
    assert pod["automountServiceAccountToken"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert pod["terminationGracePeriodSeconds"] > 20  # the service's --shutdown-timeout


def test_selectors_hold_only_constant_labels_and_match_the_pods(rendered: dict[str, RenderedManifests]) -> None:
    selectors = []
    for manifests in rendered.values():
        deployment = manifests.deployment()
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        service = manifests.find("Service")[0]["spec"]["selector"]
        pdb = manifests.find("PodDisruptionBudget")[0]["spec"]["selector"]["matchLabels"]
        for labels in (selector, service, pdb):
            assert labels.items() <= pod_labels.items()
        assert not any("environment" in k or "instance" in k or "version" in k for k in selector)
        assert manifests.find("HorizontalPodAutoscaler")[0]["spec"]["scaleTargetRef"]["name"] == \
            deployment["metadata"]["name"]
        selectors.append(selector)
    assert selectors[0] == selectors[1]


def test_rendering_leaves_the_checked_in_tree_untouched(tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in DEPLOY_ROOT.rglob("*") if p.is_file()}
    render_manifests("preprod", RELEASE, tmp_path / "out.yaml")
    assert {p: p.read_bytes() for p in DEPLOY_ROOT.rglob("*") if p.is_file()} == before


def test_an_image_given_by_tag_is_refused(tmp_path: Path) -> None:
    tagged = Release(image="registry.example.com/daystosell/service:v3", model_version="v3",
                     bundle_digest="sha256:" + "0" * 64, sequence=3)
    with pytest.raises(UnpinnedImageError, match=r"Release\.image must be pinned by digest") as caught:
        render_manifests("prod", tagged, tmp_path / "prod.yaml")
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / "prod.yaml").exists()


def test_an_unknown_overlay_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownOverlayError, match=r"'staging'.*preprod, prod"):
        render_manifests("staging", RELEASE, tmp_path / "x.yaml")


def test_a_broken_tree_fails_with_kustomize_s_reason(tmp_path: Path) -> None:
    tree = tmp_path / "k8s"
    shutil.copytree(DEPLOY_ROOT, tree)
    (tree / "base" / "pdb.yaml").unlink()
    with pytest.raises(ManifestError, match=rf"(?s)kustomize build .*{tree}/base/pdb\.yaml"):
        render_manifests("prod", RELEASE, tmp_path / "prod.yaml", deploy_root=tree)
    assert not (tmp_path / "prod.yaml").exists()


def test_a_container_left_on_another_image_fails_the_render(tmp_path: Path) -> None:
    tree = tmp_path / "k8s"
    shutil.copytree(DEPLOY_ROOT, tree)
    deployment = tree / "base" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("image: daystosell-service", "image: daystosell-servce"))
    with pytest.raises(ManifestError, match="containers still use daystosell-servce"):
        render_manifests("preprod", RELEASE, tmp_path / "preprod.yaml", deploy_root=tree)


def test_a_missing_kustomize_says_to_run_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(manifests_module, "KUSTOMIZE", tmp_path / "nothing-here")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match=r"scripts/setup\.sh"):
        kustomize_binary()


# --- validation -----------------------------------------------------------------------------------


def test_a_wrongly_typed_field_fails_the_schema_naming_it(rendered: dict[str, RenderedManifests]) -> None:
    deployment = copy.deepcopy(rendered["preprod"].deployment())
    deployment["spec"]["replicas"] = "two"
    problems = validate_manifests([deployment], policy=False)
    assert len(problems) == 1
    assert problems[0].startswith("Deployment daystosell-preprod/daystosell-service: spec.replicas: 'two'")


def test_an_unknown_field_fails_the_strict_schema_naming_it(rendered: dict[str, RenderedManifests]) -> None:
    deployment = copy.deepcopy(rendered["preprod"].deployment())
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # typo
    (problem,) = validate_manifests([deployment], policy=False)
    assert "spec.template.spec.containers[0]" in problem
    assert "'readinesProbe' was unexpected" in problem


def test_an_unknown_kind_is_reported() -> None:
    (problem,) = validate_manifests([{"apiVersion": "v1", "kind": "Gadget", "metadata": {"name": "g"}}],
                                    policy=False)
    assert problem.startswith("Gadget g:")


def _allow_escalation(c: dict[str, Any]) -> None:
    c["securityContext"]["allowPrivilegeEscalation"] = True


def _writable_root(c: dict[str, Any]) -> None:
    c["securityContext"]["readOnlyRootFilesystem"] = False


def _no_readiness(c: dict[str, Any]) -> None:
    del c["readinessProbe"]


def _no_limits(c: dict[str, Any]) -> None:
    del c["resources"]["limits"]


def _tagged_image(c: dict[str, Any]) -> None:
    c["image"] = "registry.example.com/daystosell/service:latest"


@pytest.mark.parametrize(("break_it", "expected"), [
    (_allow_escalation, "securityContext.allowPrivilegeEscalation must be false"),
    (_writable_root, "securityContext.readOnlyRootFilesystem must be true"),
    (_no_readiness, "readinessProbe is missing"),
    (_no_limits, "resources.limits lacks cpu, memory"),
    (_tagged_image, "is not pinned by digest"),
])
def test_the_policy_catches_an_unsafe_container(rendered: dict[str, RenderedManifests], break_it: Any,
                                                expected: str) -> None:
    deployment = copy.deepcopy(rendered["prod"].deployment())
    break_it(deployment["spec"]["template"]["spec"]["containers"][0])
    assert validate_manifests([deployment], policy=False) == []  # valid Kubernetes, yet not ours to run
    (problem,) = check_policy([deployment])
    assert problem.startswith("Deployment daystosell-prod/daystosell-service: spec.template.spec.containers[0] "
                              "(service): ")
    assert expected in problem
    assert problem in validate_manifests([deployment])


def test_the_policy_catches_a_root_pod_and_a_single_replica(rendered: dict[str, RenderedManifests]) -> None:
    deployment = copy.deepcopy(rendered["prod"].deployment())
    deployment["spec"]["replicas"] = 1
    del deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
    del deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"]
    problems = check_policy([deployment])
    assert len(problems) == 2
    assert "spec.replicas is 1, must be at least 2" in problems[0]
    assert "runAsNonRoot must be true" in problems[1]
    assert check_policy([d for d in rendered["prod"].documents if d["kind"] != "Deployment"]) == \
        ["no Deployment in the manifests"]


# --- KubectlRollout against a recording stand-in ---------------------------------------------------

STUB = """#!{python}
# A recording stand-in for kubectl: appends its argv to calls.jsonl, answers `get deployment` from
# deployment.json (NotFound without it), and on `apply` stores the applied Deployment there as a
# cluster would (unless hold-state exists). `rollout status` fails when rollout-fails exists.
import json, pathlib, sys
import yaml
here = pathlib.Path({here!r})
args = sys.argv[1:]
with open(here / "calls.jsonl", "a") as f:
    f.write(json.dumps(args) + "\\n")
while args and args[0] in ("--kubeconfig", "--context"):
    args = args[2:]
state = here / "deployment.json"
if args[:2] == ["get", "deployment"]:
    if state.exists():
        print(state.read_text())
        sys.exit(0)
    print('Error from server (NotFound): deployments.apps "daystosell-service" not found', file=sys.stderr)
    sys.exit(1)
if args[:1] == ["apply"]:
    docs = [d for d in yaml.safe_load_all(open(args[args.index("-f") + 1])) if d]
    for d in docs:
        print(d["kind"].lower() + "/" + d["metadata"]["name"] + " configured")
    if not (here / "hold-state").exists():
        deployment = [d for d in docs if d["kind"] == "Deployment"][0]
        deployment.setdefault("status", {{}})["readyReplicas"] = deployment["spec"]["replicas"]
        state.write_text(json.dumps(deployment))
    sys.exit(0)
if args[:2] == ["rollout", "status"]:
    if (here / "rollout-fails").exists():
        print('error: deployment "daystosell-service" exceeded its progress deadline', file=sys.stderr)
        sys.exit(1)
    print('deployment "daystosell-service" successfully rolled out')
    sys.exit(0)
print("stub kubectl: unexpected " + " ".join(args), file=sys.stderr)
sys.exit(2)
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    """A folder holding the stand-in ``kubectl`` and its state."""
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(STUB.format(python=sys.executable, here=str(tmp_path)))
    kubectl.chmod(0o755)
    return tmp_path


def calls(cluster: Path) -> list[list[str]]:
    path = cluster / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def running(cluster: Path, manifests: RenderedManifests) -> None:
    """The cluster runs ``manifests``' Deployment."""
    (cluster / "deployment.json").write_text(json.dumps(manifests.deployment()))


def render(tmp_path: Path, overlay: str, release: Release) -> RenderedManifests:
    return render_manifests(overlay, release, tmp_path / f"{overlay}-{release.sequence}.yaml")


def test_first_deploy_applies_and_waits_with_exact_commands(cluster: Path, tmp_path: Path) -> None:
    manifests = render(tmp_path, "preprod", RELEASE)
    rollout = KubectlRollout(kubectl=str(cluster / "kubectl"), rollout_timeout=240)
    assert rollout.current("preprod") is None
    deployed = rollout.deploy("preprod", RELEASE, manifests.path, logger=log)
    get = ["get", "deployment", "daystosell-service", "-n", "daystosell-preprod", "-o", "json"]
    assert calls(cluster) == [
        get,
        get,
        ["apply", "-n", "daystosell-preprod", "-f", str(manifests.path)],
        ["rollout", "status", "deployment/daystosell-service", "-n", "daystosell-preprod", "--timeout=240s"],
        get,
    ]
    assert deployed.environment == "preprod"
    assert deployed.release == RELEASE
    assert deployed.url == "http://daystosell-service.daystosell-preprod.svc.cluster.local"
    assert deployed.details["namespace"] == "daystosell-preprod"
    assert deployed.details["ready_replicas"] == "2/2"


def test_current_reads_the_release_from_the_live_deployment(cluster: Path, tmp_path: Path) -> None:
    older = Release(image=f"registry.example.com/daystosell/service@sha256:{'7a' * 32}", model_version="v6",
                    bundle_digest="sha256:" + "c3" * 32, sequence=7)
    running(cluster, render(tmp_path, "prod", older))
    rollout = KubectlRollout(kubectl=str(cluster / "kubectl"), kubeconfig="/etc/kube/config", context="prod-eu",
                             service_urls={"prod": "https://days-to-sell.example.com"})
    now = rollout.current("prod")
    assert now is not None
    assert now.release == older
    assert now.url == "https://days-to-sell.example.com"
    assert now.details["context"] == "prod-eu"
    assert calls(cluster) == [["--kubeconfig", "/etc/kube/config", "--context", "prod-eu", "get", "deployment",
                               "daystosell-service", "-n", "daystosell-prod", "-o", "json"]]


def test_a_newer_running_release_supersedes_an_older_one(cluster: Path, tmp_path: Path) -> None:
    newer = Release(image=f"registry.example.com/daystosell/service@sha256:{'9f' * 32}", model_version="v9",
                    bundle_digest="sha256:" + "d4" * 32, sequence=50)
    running(cluster, render(tmp_path, "prod", newer))
    manifests = render(tmp_path, "prod", RELEASE)
    rollout = KubectlRollout(kubectl=str(cluster / "kubectl"))
    with pytest.raises(Superseded) as caught:
        rollout.deploy("prod", RELEASE, manifests.path, logger=log)
    assert (caught.value.running, caught.value.offered) == (newer, RELEASE)
    assert [c[0] for c in calls(cluster)] == ["get"]  # nothing applied

    # A deliberate rollback goes through.
    deployed = rollout.deploy("prod", RELEASE, manifests.path, allow_older=True, logger=log)
    assert deployed.release == RELEASE
    assert [c[0] for c in calls(cluster)] == ["get", "get", "apply", "rollout", "get"]


def test_a_failed_rollout_says_how_to_undo(cluster: Path, tmp_path: Path) -> None:
    manifests = render(tmp_path, "prod", RELEASE)
    (cluster / "rollout-fails").touch()
    rollout = KubectlRollout(kubectl=str(cluster / "kubectl"), context="prod-eu")
    with pytest.raises(RolloutFailedError) as caught:
        rollout.deploy("prod", RELEASE, manifests.path, logger=log)
    message = str(caught.value)
    assert "exceeded its progress deadline" in message
    assert "kubectl --context prod-eu rollout undo deployment/daystosell-service -n daystosell-prod" in message
    assert calls(cluster)[-1][:4] == ["--context", "prod-eu", "rollout", "status"]


def test_a_rollout_overtaken_meanwhile_is_reported(cluster: Path, tmp_path: Path) -> None:
    older = Release(image=f"registry.example.com/daystosell/service@sha256:{'7a' * 32}", model_version="v6",
                    bundle_digest="sha256:" + "c3" * 32, sequence=7)
    running(cluster, render(tmp_path, "preprod", older))
    (cluster / "hold-state").touch()  # the apply "lands" but the Deployment still shows sequence 7
    manifests = render(tmp_path, "preprod", RELEASE)
    with pytest.raises(KubectlError, match="sequence 7, not 42"):
        KubectlRollout(kubectl=str(cluster / "kubectl")).deploy("preprod", RELEASE, manifests.path, logger=log)


def test_manifests_of_another_environment_or_release_are_refused(cluster: Path, tmp_path: Path) -> None:
    prod = render(tmp_path, "prod", RELEASE)
    rollout = KubectlRollout(kubectl=str(cluster / "kubectl"))
    with pytest.raises(ManifestMismatchError, match="namespace daystosell-prod, not daystosell-preprod"):
        rollout.deploy("preprod", RELEASE, prod.path, logger=log)
    other = Release(image=RELEASE.image, model_version=RELEASE.model_version, bundle_digest=RELEASE.bundle_digest,
                    sequence=43)
    with pytest.raises(ManifestMismatchError, match="render it again"):
        rollout.deploy("prod", other, prod.path, logger=log)
    assert calls(cluster) == []


def test_a_deployment_not_rendered_by_us_is_not_guessed_at(cluster: Path, tmp_path: Path) -> None:
    deployment = render(tmp_path, "prod", RELEASE).deployment()
    del deployment["metadata"]["annotations"][ANNOTATION_SEQUENCE]
    (cluster / "deployment.json").write_text(json.dumps(deployment))
    with pytest.raises(KubectlError, match=f"lacks {ANNOTATION_SEQUENCE}"):
        KubectlRollout(kubectl=str(cluster / "kubectl")).current("prod")


def test_a_missing_kubectl_says_what_to_install(tmp_path: Path) -> None:
    assert not os.path.exists(tmp_path / "kubectl")
    with pytest.raises(ToolMissingError, match="install a kubectl"):
        KubectlRollout(kubectl=str(tmp_path / "kubectl")).current("prod")
