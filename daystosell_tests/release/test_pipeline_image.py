"""The pipeline image (deploy/containers/pipeline.Containerfile), built with buildah and looked into with
podman: what the Helm chart's user-code deployment and the K8sRunLauncher's run pods rely on.

A cold build installs the JRE from Debian and pyspark, Dagster and the rest from PyPI (several minutes on
the 2-core machine); later builds reuse those layers. ``DAYSTOSELL_SKIP_IMAGES=1`` skips this module with
the other container tests.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daystosell_assets.release import (
    BuildContextError,
    BuiltImage,
    ContainerTools,
    image_labels,
    remove_image,
    run_once,
)
from daystosell_assets.release.pipeline_image import (
    IMAGE_MLEAP_JVM_DIR,
    IMAGE_S3A_JARS_DIR,
    build_pipeline_image,
    prepare_pipeline_context,
)

from .conftest import SOURCE_COMMIT

pytestmark = pytest.mark.container

log = logging.getLogger("daystosell_tests.release")

UID = "10001"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # the Helm chart's global.dagsterHome
MODULE = "daystosell_assets.definitions"


@pytest.fixture(scope="module")
def pipeline_image(tools: ContainerTools, base_image: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    context = prepare_pipeline_context(tmp_path_factory.mktemp("pipeline") / "context")
    tag = f"localhost/daystosell/pipeline-test:{uuid.uuid4().hex[:8]}"
    image = build_pipeline_image(context, tag, SOURCE_COMMIT, base_image=base_image, tools=tools)
    log.info(f"pipeline image {tag}: {image.size_bytes / 1e6:.0f} MB, built in {image.seconds:.0f} s")
    yield image
    # Only the tag: the untagged parents are the layer cache the next build reuses.
    remove_image(image.tag, tools)


def sh(image: BuiltImage, script: str, tools: ContainerTools) -> str:
    """``script`` in a fresh container of ``image``, as the image's user; stdout and stderr."""
    return run_once(image.tag, ["sh", "-c", f"{script} 2>&1"], tools=tools)


def test_java_17_is_on_the_path(pipeline_image: BuiltImage, tools: ContainerTools) -> None:
    assert 'version "17.' in sh(pipeline_image, "java -version", tools)


def test_pyspark_dagster_and_the_definitions_import(pipeline_image: BuiltImage, tools: ContainerTools) -> None:
    out = sh(pipeline_image, f"python -c 'import pyspark, dagster, dagster_k8s, dagster_postgres, {MODULE}; "
                             "print(pyspark.__version__, dagster.__version__)'", tools)
    assert out.split()[-2:] == ["4.1.4", "1.13.27"], out


def test_dagster_validates_the_definitions(pipeline_image: BuiltImage, tools: ContainerTools) -> None:
    # `dagster definitions validate` exits non-zero (run_once raises) when the code location fails to load.
    out = sh(pipeline_image, f"dagster definitions validate -m {MODULE}", tools)
    assert f"Validation successful for code location {MODULE}" in out, out


def test_the_jars_are_where_the_project_reads_them(pipeline_image: BuiltImage, tools: ContainerTools) -> None:
    script = ("import json; from daystosell_assets.mleap.reference import jvm_dir; "
              "from daystosell_assets.lake.s3 import s3a_jars; d = jvm_dir(); "
              "print(json.dumps({'jvm': str(d), 'lib': sorted(p.name for p in (d / 'lib').glob('*.jar')), "
              "'harness': (d / 'classes' / 'MleapScore.class').is_file(), "
              "'s3a': [p.name for p in s3a_jars()]}))")
    found = json.loads(sh(pipeline_image, f'python -c "{script}"', tools).strip().splitlines()[-1])
    assert found["jvm"] == IMAGE_MLEAP_JVM_DIR
    assert any(name.startswith("mleap-runtime_") for name in found["lib"]), found["lib"]
    assert found["harness"], f"{IMAGE_MLEAP_JVM_DIR}/classes/MleapScore.class is missing"
    assert any(name.startswith("hadoop-aws-") for name in found["s3a"]), f"no hadoop-aws in {IMAGE_S3A_JARS_DIR}"


def test_spark_starts_with_the_s3a_jars(pipeline_image: BuiltImage, tools: ContainerTools) -> None:
    """A run pod's Spark: the JVM, pyspark and the S3A jars working together as the non-root user."""
    script = ("from daystosell_assets.resources import spark_session; s = spark_session(); "
              "print('jars', s.conf.get('spark.jars')); print('count', s.range(1000).count()); s.stop()")
    out = sh(pipeline_image, f'SPARK_LOCAL_IP=127.0.0.1 python -c "{script}"', tools)
    assert "count 1000" in out, out[-2000:]
    assert "hadoop-aws-" in out, out[-2000:]


def test_it_runs_as_a_non_root_user_with_dagster_home(pipeline_image: BuiltImage, tools: ContainerTools) -> None:
    out = sh(pipeline_image, 'id -u; echo "$DAGSTER_HOME"; test -w "$DAGSTER_HOME" && echo writable', tools)
    assert out.split() == [UID, DAGSTER_HOME, "writable"], out


def test_the_default_command_serves_the_code_location_over_grpc(pipeline_image: BuiltImage,
                                                               tools: ContainerTools) -> None:
    """The image's CMD, as the chart runs it (with its own args), answers the gRPC health check."""
    config = json.loads(tools.run(tools.podman("image", "inspect", "--format", "{{json .Config}}",
                                               pipeline_image.tag)))
    assert not config.get("Entrypoint"), "the chart and the run launcher pass the whole command as args"
    assert config["Cmd"][:3] == ["dagster", "api", "grpc"] and MODULE in config["Cmd"]
    # Loopback only, on a port of its own: --network host shares the machine's.
    serve = " ".join(config["Cmd"]).replace("0.0.0.0", "127.0.0.1").replace("3030", "39030")
    out = sh(pipeline_image, f"{serve} >/tmp/grpc.log 2>&1 & for i in $(seq 90); do "
                             "dagster api grpc-health-check --port 39030 >/dev/null 2>&1 && echo SERVING && exit 0; "
                             "sleep 1; done; cat /tmp/grpc.log; exit 1", tools)
    assert "SERVING" in out, out


def test_the_image_says_what_it_is(pipeline_image: BuiltImage, tools: ContainerTools) -> None:
    labels = image_labels(pipeline_image.tag, tools)
    assert labels["org.opencontainers.image.title"] == "daystosell-pipeline"
    assert labels["org.opencontainers.image.revision"] == SOURCE_COMMIT
    assert "io.daystosell.model.bundle-digest" not in labels, "the pipeline image holds no model"


def test_the_context_refuses_to_build_without_jars(tmp_path: Path) -> None:
    with pytest.raises(BuildContextError, match="install_mleap_jvm"):
        prepare_pipeline_context(tmp_path / "context", state_dir=tmp_path / "no-state")
