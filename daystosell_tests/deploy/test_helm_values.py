"""deploy/helm/values.yaml, checked without the Dagster chart, without Helm and without a cluster.

What can be validated offline, and how:

(a) The values parse, and every key we set sits where the chart expects it with the type it expects. The
    chart ships a values.schema.json that ``helm install`` enforces, but we cannot download the chart here:
    ``CHART_KEYS`` below is OUR transcription of the chart's value models (chart 1.13, helm/dagster/schema),
    limited to the sections we set, where the chart forbids unknown keys. It can lag behind the chart; it
    catches typos and misplaced keys, the usual way a values file silently does nothing.
(b) Every Kubernetes object fragment embedded in the values (resources, security contexts, env and envFrom
    entries, pull secrets, the run launcher's runK8sConfig, the retrain job's ``dagster-k8s/config`` tag),
    and the user-code Deployment assembled from them, validate against the Kubernetes 1.37 OpenAPI schemas
    that the ``kubernetes-validate`` package ships, in its strict variant (unknown fields are errors).
    Quantities are parsed with the Kubernetes client's own parser, and requests must not exceed limits.
(c) dagster-k8s's own parsers accept the run configuration: ``get_user_defined_k8s_config`` on the retrain
    job's tags, ``K8sRunLauncher.config_type()`` on deploy/dagster/dagster.yaml's run launcher and on our
    k8sRunLauncher section as the chart translates it, ``QueuedRunCoordinator.config_type()`` on our queue;
    and Dagster's own merge gives a retrain run pod the Spark sizing over the launcher's defaults.
(d) The user-code image is the pipeline image the project builds (daystosell_assets.release.pipeline_image),
    and the values agree with its Containerfile (uid, DAGSTER_HOME, gRPC port, module).
(e) No secret value appears anywhere in the values: only names of Secrets, each one listed in the README.

Not validated here: that the chart renders these values (``helm template`` needs the chart), that the
cluster accepts them (admission, PodSecurity), that the Secrets exist, that PostgreSQL and S3 are reachable.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes.utils import parse_quantity
from referencing import Registry, Resource

from daystosell_assets.defs.automation import SPARK_HEAVY, SPARK_RUN_K8S_CONFIG
from daystosell_assets.release.pipeline_image import PIPELINE_CONTAINERFILE, PIPELINE_IMAGE_REPOSITORY

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "deploy" / "helm" / "values.yaml"
README = REPO / "deploy" / "helm" / "README.md"
INSTANCE_YAML = REPO / "deploy" / "dagster" / "dagster.yaml"
K8S_VERSION = "1.37.0"
USER_CODE = "dagster-user-deployments"

# (a) Ours: the keys the chart's value models accept at each path where we set something (the chart's
# schema forbids others there). Paths are dotted; "[]" stands for every item of a list.
CHART_KEYS: dict[str, set[str]] = {
    "": {"global", "telemetry", "generatePostgresqlPasswordSecret", "generateCeleryConfigSecret", "postgresql",
         "computeLogManager", "dagsterWebserver", "dagsterDaemon", USER_CODE, "runLauncher", "rabbitmq", "redis",
         "flower", "ingress", "imagePullSecrets", "scheduler", "pythonLogs", "busybox", "migrate",
         "serviceAccount", "retention", "concurrency", "additionalInstanceConfig", "nameOverride",
         "fullnameOverride", "rbacEnabled"},
    "global": {"postgresqlSecretName", "dagsterHome", "serviceAccountName", "celeryConfigSecretName",
               "dagsterInstanceConfigMap"},
    "telemetry": {"enabled"},
    "postgresql": {"enabled", "image", "postgresqlHost", "postgresqlUsername", "postgresqlPassword",
                   "postgresqlDatabase", "postgresqlParams", "postgresqlScheme", "service"},
    "postgresql.service": {"port"},
    "computeLogManager": {"type", "config"},
    "computeLogManager.config": {"azureBlobComputeLogManager", "gcsComputeLogManager", "s3ComputeLogManager",
                                 "customComputeLogManager", "localComputeLogManager"},
    "computeLogManager.config.s3ComputeLogManager": {
        "bucket", "localDir", "prefix", "useSsl", "verify", "verifyCertPath", "endpointUrl", "skipEmptyFiles",
        "uploadInterval", "uploadExtraArgs", "showUrlOnly", "region"},
    "dagsterWebserver": {
        "replicaCount", "image", "nameOverride", "pathPrefix", "service", "workspace", "env", "envConfigMaps",
        "envSecrets", "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations",
        "podSecurityContext", "securityContext", "resources", "readinessProbe", "livenessProbe", "startupProbe",
        "annotations", "enableReadOnly", "dbStatementTimeout", "dbPoolRecycle", "dbPoolMaxOverflow", "logLevel",
        "logFormat", "schedulerName", "volumeMounts", "volumes"},
    "dagsterWebserver.service": {"type", "port", "annotations"},
    "dagsterDaemon": {
        "enabled", "image", "runCoordinator", "heartbeatTolerance", "env", "envConfigMaps", "envSecrets",
        "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations", "podSecurityContext",
        "securityContext", "resources", "livenessProbe", "readinessProbe", "startupProbe", "annotations",
        "runMonitoring", "runRetries", "sensors", "schedules", "schedulerName", "volumeMounts", "volumes",
        "logLevel", "logFormat"},
    "dagsterDaemon.runCoordinator": {"enabled", "type", "config"},
    "dagsterDaemon.runCoordinator.config": {"queuedRunCoordinator", "customRunCoordinator"},
    "dagsterDaemon.runCoordinator.config.queuedRunCoordinator": {
        "maxConcurrentRuns", "tagConcurrencyLimits", "dequeueIntervalSeconds", "dequeueNumWorkers",
        "dequeueUseThreads", "blockOpConcurrencyLimitedRuns"},
    "dagsterDaemon.runCoordinator.config.queuedRunCoordinator.tagConcurrencyLimits[]": {"key", "value", "limit"},
    USER_CODE: {"enabled", "enableSubchart", "imagePullSecrets", "deployments"},
    f"{USER_CODE}.deployments[]": {
        "name", "image", "port", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns", "env",
        "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity", "tolerations",
        "podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe", "startupProbe",
        "labels", "volumeMounts", "volumes", "schedulerName", "initContainers", "sidecarContainers",
        "deploymentStrategy", "replicaCount"},
    f"{USER_CODE}.deployments[].image": {"repository", "tag", "pullPolicy"},
    f"{USER_CODE}.deployments[].includeConfigInLaunchedRuns": {"enabled"},
    "runLauncher": {"type", "config"},
    "runLauncher.config": {"celeryK8sRunLauncher", "k8sRunLauncher", "customRunLauncher"},
    "runLauncher.config.k8sRunLauncher": {
        "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps",
        "envSecrets", "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources",
        "schedulerName", "securityContext", "runK8sConfig"},
    "runLauncher.config.k8sRunLauncher.runK8sConfig": {
        "containerConfig", "podSpecConfig", "podTemplateSpecMetadata", "jobSpecConfig", "jobMetadata"},
}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}
# The chart's helm template turns runK8sConfig's camelCase keys into the launcher's snake_case ones.
RUN_K8S_CONFIG_KEYS = {"containerConfig": "container_config", "podSpecConfig": "pod_spec_config",
                       "podTemplateSpecMetadata": "pod_template_spec_metadata",
                       "jobSpecConfig": "job_spec_config", "jobMetadata": "job_metadata"}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded = yaml.safe_load(VALUES.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def user_code(values: dict[str, Any]) -> dict[str, Any]:
    deployments = values[USER_CODE]["deployments"]
    assert len(deployments) == 1, "one code location: daystosell"
    return dict(deployments[0])


@pytest.fixture(scope="module")
def launcher(values: dict[str, Any]) -> dict[str, Any]:
    return dict(values["runLauncher"]["config"]["k8sRunLauncher"])


@pytest.fixture(scope="module")
def retrain_tags() -> dict[str, str]:
    from daystosell_assets.definitions import defs

    return dict(defs.resolve_job_def("retrain").tags)


# ---------------------------------------------------------------------------------------------- helpers


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) under ``node``, list items as ``path[]``."""
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for child in node:
            yield from walk(child, f"{path}[]")


def _k8s_definitions() -> dict[str, Any]:
    folder = importlib.resources.files(kubernetes_validate) / "kubernetes-json-schema" / f"v{K8S_VERSION}-local-strict"
    loaded = json.loads((folder / "_definitions.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


DEFINITIONS = _k8s_definitions()
_REGISTRY = Resource.from_contents(DEFINITIONS) @ Registry()


def k8s_errors(fragment: Any, definition: str) -> list[str]:
    """Where ``fragment`` breaks the strict Kubernetes 1.37 schema of ``definition`` (e.g.
    ``io.k8s.api.core.v1.ResourceRequirements``): kubernetes-validate's own files, one definition at a time
    (its ``validate`` only takes whole objects with apiVersion and kind)."""
    assert definition in DEFINITIONS["$defs"], f"no definition {definition} in Kubernetes {K8S_VERSION}"
    schema = {"$ref": f"{DEFINITIONS['$id']}#/$defs/{definition}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_REGISTRY)
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(fragment)]


def check_resources(resources: dict[str, Any]) -> None:
    assert not k8s_errors(resources, "io.k8s.api.core.v1.ResourceRequirements")
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    for name, quantity in {**requests, **limits}.items():
        parse_quantity(quantity)  # raises on "2 GB", "1.5Gb", ...
        assert name in ("cpu", "memory", "ephemeral-storage"), name
    for name, request in requests.items():
        if name in limits:
            assert parse_quantity(request) <= parse_quantity(limits[name]), f"{name}: request above limit"


def user_code_deployment(user_code: dict[str, Any], pull_secrets: list[dict[str, str]]) -> dict[str, Any]:
    """The apps/v1 Deployment the chart makes of our user-code entry, reduced to what the values decide."""
    image = user_code["image"]
    container = {
        "name": user_code["name"],
        "image": f"{image['repository']}:{image['tag']}",
        "imagePullPolicy": image["pullPolicy"],
        "args": ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(user_code["port"]),
                 *user_code["dagsterApiGrpcArgs"]],
        "ports": [{"name": "grpc", "containerPort": user_code["port"]}],
        "env": user_code["env"],
        "envFrom": [{"secretRef": s} for s in user_code["envSecrets"]],
        "resources": user_code["resources"],
        "securityContext": user_code["securityContext"],
    }
    labels = {"app.kubernetes.io/name": "dagster", "component": "user-deployments"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"dagster-dagster-user-deployments-{user_code['name']}"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"imagePullSecrets": pull_secrets,
                                       "securityContext": user_code["podSecurityContext"],
                                       "containers": [container]}}},
    }


def launcher_config(launcher: dict[str, Any]) -> dict[str, Any]:
    """Our k8sRunLauncher section as the chart's instance template writes it into dagster.yaml (the
    ``env:`` sources are the variables the chart sets in the daemon)."""
    return {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher.get("jobNamespace") or "dagster",
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": "dagster",
        "dagster_home": {"env": "DAGSTER_HOME"},
        "instance_config_map": {"env": "DAGSTER_K8S_INSTANCE_CONFIG_MAP"},
        "postgres_password_secret": {"env": "DAGSTER_K8S_PG_PASSWORD_SECRET"},
        "env_config_maps": [{"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"},
                            *(c["name"] for c in launcher["envConfigMaps"])],
        "env_secrets": [s["name"] for s in launcher["envSecrets"]],
        "env_vars": list(launcher["envVars"]),
        "fail_pod_on_run_failure": launcher["failPodOnRunFailure"],
        "run_k8s_config": {RUN_K8S_CONFIG_KEYS[k]: v for k, v in launcher["runK8sConfig"].items()},
    }


# ------------------------------------------------------------------------------ (a) the chart's layout


def test_every_key_we_set_is_one_the_chart_accepts_there(values: dict[str, Any]) -> None:
    unknown = []
    for path, node in walk(values):
        if path in CHART_KEYS and isinstance(node, dict):
            unknown += [f"{path}.{key}" if path else key for key in node if key not in CHART_KEYS[path]]
    assert not unknown, f"keys the Dagster chart does not have at these places: {unknown}"


def test_the_sections_have_the_types_and_choices_the_chart_expects(
        values: dict[str, Any], user_code: dict[str, Any], launcher: dict[str, Any]) -> None:
    assert values["telemetry"] == {"enabled": False}
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    assert isinstance(coordinator["config"]["queuedRunCoordinator"]["maxConcurrentRuns"], int)
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert isinstance(values["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"], str)
    assert isinstance(user_code["port"], int) and user_code["port"] == 3030
    assert user_code["image"]["pullPolicy"] in PULL_POLICIES
    assert launcher["imagePullPolicy"] in PULL_POLICIES
    assert isinstance(launcher["loadInclusterConfig"], bool)
    assert all(isinstance(v, str) and "=" in v for v in launcher["envVars"])
    assert isinstance(user_code["includeConfigInLaunchedRuns"]["enabled"], bool)
    for section in ("dagsterWebserver", "dagsterDaemon"):
        assert "image" not in values[section], "webserver and daemon keep the chart's image of its own version"


def test_the_database_is_external_and_its_password_a_secret_we_create(values: dict[str, Any]) -> None:
    postgresql = values["postgresql"]
    assert postgresql["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False, "else the chart writes a Secret from the values"
    assert postgresql["postgresqlHost"] and postgresql["postgresqlUsername"] and postgresql["postgresqlDatabase"]
    assert isinstance(postgresql["service"]["port"], int)
    assert "postgresqlPassword" not in postgresql
    assert values["global"]["postgresqlSecretName"]


def test_spark_runs_queue_one_at_a_time_on_the_retrain_jobs_tag(values: dict[str, Any]) -> None:
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    [(key, value)] = SPARK_HEAVY.items()
    assert {"key": key, "value": value, "limit": 1} in limits


def test_the_user_code_deployment_loads_the_projects_code_location(user_code: dict[str, Any]) -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    module = re.search(r'^module_name = "([^"]+)"', pyproject, re.M)
    assert module is not None
    assert user_code["name"] == "daystosell"
    assert user_code["dagsterApiGrpcArgs"] == ["--module-name", module.group(1)]
    assert module.group(1) == "daystosell_assets.definitions"


def test_run_pods_get_the_code_servers_environment(user_code: dict[str, Any], launcher: dict[str, Any]) -> None:
    """includeConfigInLaunchedRuns is off (see the values), so the launcher repeats the environment: the
    two lists must not drift apart."""
    if user_code["includeConfigInLaunchedRuns"]["enabled"]:
        pytest.fail("with includeConfigInLaunchedRuns on, the code server's resources override runK8sConfig")
    assert launcher["envVars"] == [f"{e['name']}={e['value']}" for e in user_code["env"]]
    assert launcher["envSecrets"] == user_code["envSecrets"]
    env = {e["name"]: e["value"] for e in user_code["env"]}
    assert env["DAYSTOSELL_ROLLOUT"] == "kubernetes"
    assert env["DAYSTOSELL_LAKE_ROOT"].startswith("s3://")
    assert env["DAYSTOSELL_REGISTRY"]


# ---------------------------------------------------------------------------- (b) Kubernetes fragments


def test_the_schema_check_rejects_what_kubernetes_would() -> None:
    """The check itself: a typo, a wrong type and an unknown field are errors in the strict schemas."""
    assert k8s_errors({"requests": {"cpu": "1"}}, "io.k8s.api.core.v1.ResourceRequirements") == []
    assert k8s_errors({"request": {"cpu": "1"}}, "io.k8s.api.core.v1.ResourceRequirements")
    assert k8s_errors({"runAsNonRoot": "yes"}, "io.k8s.api.core.v1.SecurityContext")
    assert k8s_errors({"name": "x", "valueFrom": {"secretRef": {"name": "y"}}}, "io.k8s.api.core.v1.EnvVar")
    with pytest.raises(ValueError):
        parse_quantity("2 GB")


@pytest.mark.parametrize("path", [
    f"{USER_CODE}.deployments[0].resources",
    "dagsterWebserver.resources",
    "dagsterDaemon.resources",
    "runLauncher.config.k8sRunLauncher.runK8sConfig.containerConfig.resources",
])
def test_resources_are_valid_kubernetes_resource_requirements(values: dict[str, Any], path: str) -> None:
    node: Any = values
    for part in path.split("."):
        key, _, index = part.partition("[")
        node = node[key][int(index.rstrip("]"))] if index else node[key]
    check_resources(node)


def test_security_contexts_are_valid_and_non_root(user_code: dict[str, Any], launcher: dict[str, Any]) -> None:
    run = launcher["runK8sConfig"]
    for pod in (user_code["podSecurityContext"], run["podSpecConfig"]["securityContext"]):
        assert not k8s_errors(pod, "io.k8s.api.core.v1.PodSecurityContext")
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0
    for container in (user_code["securityContext"], run["containerConfig"]["securityContext"]):
        assert not k8s_errors(container, "io.k8s.api.core.v1.SecurityContext")
        assert container["runAsNonRoot"] is True and container["allowPrivilegeEscalation"] is False


def test_env_and_secret_references_are_valid_kubernetes_shapes(
        values: dict[str, Any], user_code: dict[str, Any], launcher: dict[str, Any]) -> None:
    for entry in user_code["env"]:
        assert not k8s_errors(entry, "io.k8s.api.core.v1.EnvVar"), entry
    for source in (*user_code["envSecrets"], *launcher["envSecrets"]):
        assert not k8s_errors(source, "io.k8s.api.core.v1.SecretEnvSource"), source
        assert not k8s_errors({"secretRef": source}, "io.k8s.api.core.v1.EnvFromSource"), source
    for ref in (*values[USER_CODE]["imagePullSecrets"], *launcher["runK8sConfig"]["podSpecConfig"]["imagePullSecrets"]):
        assert not k8s_errors(ref, "io.k8s.api.core.v1.LocalObjectReference"), ref


def test_the_run_launchers_pod_and_container_config_are_valid(launcher: dict[str, Any]) -> None:
    run = launcher["runK8sConfig"]
    # Dagster fills in the container's name, image and command, and the pod's containers.
    container = {"name": "dagster", **run["containerConfig"]}
    assert not k8s_errors(container, "io.k8s.api.core.v1.Container")
    pod_spec = {"containers": [{"name": "dagster"}], **run["podSpecConfig"]}
    assert not k8s_errors(pod_spec, "io.k8s.api.core.v1.PodSpec")


def test_the_retrain_jobs_k8s_tag_is_a_valid_container_config(retrain_tags: dict[str, str]) -> None:
    tag = json.loads(retrain_tags["dagster-k8s/config"])
    assert set(tag) <= set(RUN_K8S_CONFIG_KEYS.values())
    assert not k8s_errors({"name": "dagster", **tag["container_config"]}, "io.k8s.api.core.v1.Container")
    check_resources(tag["container_config"]["resources"])


def test_the_user_code_deployment_assembled_from_the_values_is_a_valid_deployment(
        values: dict[str, Any], user_code: dict[str, Any]) -> None:
    deployment = user_code_deployment(user_code, values[USER_CODE]["imagePullSecrets"])
    assert kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["limit"] = {"cpu": "1"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


# ------------------------------------------------------------------------------- (c) dagster-k8s itself


def test_dagster_k8s_parses_the_retrain_jobs_run_config(retrain_tags: dict[str, str]) -> None:
    from dagster_k8s.job import get_user_defined_k8s_config

    config = get_user_defined_k8s_config(retrain_tags)
    assert config.container_config["resources"] == SPARK_RUN_K8S_CONFIG["container_config"]["resources"]
    assert retrain_tags[next(iter(SPARK_HEAVY))] == SPARK_HEAVY[next(iter(SPARK_HEAVY))]


def test_the_k8s_run_launcher_accepts_our_launcher_section(launcher: dict[str, Any]) -> None:
    from dagster._config import validate_config
    from dagster_k8s import K8sRunLauncher

    result = validate_config(K8sRunLauncher.config_type(), launcher_config(launcher))
    assert result.success, [e.message for e in result.errors or []]
    typo = {**launcher_config(launcher), "run_k8s_config": {"containers_config": {}}}
    assert not validate_config(K8sRunLauncher.config_type(), typo).success


def test_the_k8s_run_launcher_accepts_the_instances_run_launcher() -> None:
    from dagster._config import validate_config
    from dagster_k8s import K8sRunLauncher

    instance = yaml.safe_load(INSTANCE_YAML.read_text())
    run_launcher = instance["run_launcher"]
    assert (run_launcher["module"], run_launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    result = validate_config(K8sRunLauncher.config_type(), run_launcher["config"])
    assert result.success, [e.message for e in result.errors or []]


def test_the_queued_run_coordinator_accepts_our_queue(values: dict[str, Any]) -> None:
    from dagster._config import validate_config
    from dagster._core.run_coordinator import QueuedRunCoordinator

    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    config = {"max_concurrent_runs": queue["maxConcurrentRuns"],
              "tag_concurrency_limits": queue["tagConcurrencyLimits"]}
    result = validate_config(QueuedRunCoordinator.config_type(), config)
    assert result.success, [e.message for e in result.errors or []]


def test_a_retrain_run_pod_gets_the_spark_sizing_over_the_launchers_defaults(
        launcher: dict[str, Any], retrain_tags: dict[str, str]) -> None:
    """Dagster's own merge (launcher defaults, then the job's tag) as K8sContainerContext.create_for_run does."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_user_defined_k8s_config

    defaults = K8sContainerContext(
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(launcher_config(launcher)["run_k8s_config"]))
    retrain = defaults.merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(retrain_tags)))
    container = retrain.run_k8s_config.container_config
    assert container["resources"] == SPARK_RUN_K8S_CONFIG["container_config"]["resources"]
    assert container["security_context"]["run_as_non_root"] is True, "the tag must not drop the defaults"
    default = defaults.run_k8s_config.container_config["resources"]
    assert parse_quantity(container["resources"]["requests"]["memory"]) > parse_quantity(
        default["requests"]["memory"])


# ------------------------------------------------------------------------------------ (d) the image


def test_the_image_is_the_pipeline_image_the_project_builds(user_code: dict[str, Any]) -> None:
    image = user_code["image"]
    assert image["repository"].endswith(f"/{PIPELINE_IMAGE_REPOSITORY}")
    assert (REPO / PIPELINE_CONTAINERFILE).is_file()
    # The chart renders "<repository>:<tag>": an OCI tag, optionally followed by the digest to pull.
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[0-9a-f]{64})?", str(image["tag"])), image["tag"]


def test_the_values_agree_with_the_pipeline_containerfile(values: dict[str, Any], user_code: dict[str, Any]) -> None:
    containerfile = (REPO / PIPELINE_CONTAINERFILE).read_text()
    uid = re.search(r"useradd --uid (\d+)", containerfile)
    home = re.search(r"DAGSTER_HOME=(\S+)", containerfile)
    assert uid is not None and home is not None
    assert user_code["podSecurityContext"]["runAsUser"] == int(uid.group(1))
    assert user_code["securityContext"]["runAsUser"] == int(uid.group(1))
    assert values["global"]["dagsterHome"] == home.group(1)
    assert f'"--port", "{user_code["port"]}"' in containerfile


# ------------------------------------------------------------------------------------- (e) secrets

SECRETISH_NAME = re.compile(r"pass(word)?|secret|token|credential|private|access_?key|api_?key", re.I)
SECRETISH_VALUE = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # an AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"^[A-Za-z0-9+/]{32,}={0,2}$"),  # a long base64 blob
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # a URL with user:password
]


def referenced_secrets(values: dict[str, Any]) -> set[str]:
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    names = {values["global"]["postgresqlSecretName"]}
    names |= {s["name"] for d in values[USER_CODE]["deployments"] for s in d.get("envSecrets", [])}
    names |= {s["name"] for s in launcher["envSecrets"]}
    names |= {s["name"] for s in values[USER_CODE]["imagePullSecrets"]}
    names |= {s["name"] for s in launcher["runK8sConfig"]["podSpecConfig"]["imagePullSecrets"]}
    return names


def test_no_secret_value_appears_in_the_values(values: dict[str, Any]) -> None:
    secret_names = referenced_secrets(values)
    leaks = []
    for path, node in walk(values):
        key = path.rsplit(".", 1)[-1].removesuffix("[]")
        if isinstance(node, str):
            if any(p.search(node) for p in SECRETISH_VALUE):
                leaks.append(f"{path}: looks like a credential")
            if "=" in node and SECRETISH_NAME.search(node.split("=", 1)[0]):
                leaks.append(f"{path}: {node.split('=', 1)[0]} given a value (envVars)")
            elif SECRETISH_NAME.search(key) and node not in secret_names:
                leaks.append(f"{path}: a secret-looking key with a value that names no Secret")
        if isinstance(node, dict) and "value" in node and SECRETISH_NAME.search(str(node.get("name", ""))):
            leaks.append(f"{path}: env {node['name']} given a value, not a Secret")
    assert not leaks, leaks


def test_the_secret_check_catches_a_leak(values: dict[str, Any]) -> None:
    """The check itself, on copies with a password written in three ways."""
    for leak in ({"postgresql": {"postgresqlPassword": "hunter2hunter2"}},
                 {"env": [{"name": "DAYSTOSELL_REGISTRY_PASSWORD", "value": "x"}]},
                 {"envVars": ["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"]}):
        leaky = {**copy.deepcopy(values), "leak": leak}
        with pytest.raises(AssertionError):
            test_no_secret_value_appears_in_the_values(leaky)


def test_secrets_are_referenced_by_valid_names_and_documented(values: dict[str, Any]) -> None:
    readme = README.read_text()
    dns_subdomain = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
    for name in sorted(referenced_secrets(values)):
        assert dns_subdomain.fullmatch(name), name
        assert re.search(rf"kubectl create secret \S+ {re.escape(name)}\b", readme), \
            f"deploy/helm/README.md does not say how to create the Secret {name}"
