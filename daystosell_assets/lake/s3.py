"""The lake on S3 or an S3-compatible server: Spark's S3A connector and boto3, set up the same way.

Spark reaches S3 through Hadoop's S3A connector, which pyspark does not ship: its jars (hadoop-aws at
pyspark's exact Hadoop version plus the few AWS SDK v2 modules it needs, daystosell_assets/lake/jvm/pom.xml)
are installed by scripts/setup.sh into ``.state/s3a/lib``. They must be on ``spark.jars`` when the JVM
starts, so :func:`daystosell_assets.resources.spark_config` always lists them; where the lake is (endpoint,
credentials) can then be set on a session already running with :func:`configure_s3a`.

Works against AWS itself (``endpoint_url=None``) and against S3Proxy on loopback (scripts/s3_server.py),
which the tests use.

Environment: ``DAYSTOSELL_S3A_JARS`` overrides the folder of S3A jars.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource
    from pyspark.sql import SparkSession

PROJECT_ROOT = Path(__file__).resolve().parents[2]
S3A_JARS_DIR = Path(os.environ.get("DAYSTOSELL_S3A_JARS") or PROJECT_ROOT / ".state" / "s3a" / "lib")
DEFAULT_REGION = "us-east-1"
S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"
SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"

# Every key configure_s3a manages, so that switching endpoint or credentials also clears what a previous
# call set (keys left unset fall back to S3A's defaults).
_MANAGED_KEYS = ("endpoint", "endpoint.region", "path.style.access", "connection.ssl.enabled",
                 "aws.credentials.provider", "access.key", "secret.key")


def s3a_jars(jars_dir: Path | None = None) -> list[Path]:
    """The S3A connector's jars, sorted; empty when they are not installed."""
    folder = jars_dir or S3A_JARS_DIR
    return sorted(folder.glob("*.jar")) if folder.is_dir() else []


def s3a_options(endpoint_url: str | None, access_key: str | None, secret_key: str | None,
                region: str = DEFAULT_REGION, path_style: bool = True) -> dict[str, str | None]:
    """The ``fs.s3a.*`` Hadoop options (without the prefix) for an endpoint; ``None`` means "leave unset"."""
    options: dict[str, str | None] = {
        # None: AWS itself, the endpoint following the region.
        "endpoint": endpoint_url,
        # SigV4 signs for a region, which cannot be derived from a host that is not AWS's.
        "endpoint.region": region,
        # A loopback server has no per-bucket DNS names (bucket.127.0.0.1 does not resolve).
        "path.style.access": "true" if path_style else "false",
        # S3A puts https:// before an endpoint given without a scheme unless this is false.
        "connection.ssl.enabled": "false" if (endpoint_url or "").startswith("http://") else "true",
    }
    if access_key and secret_key:
        options.update({"aws.credentials.provider": SIMPLE_CREDENTIALS, "access.key": access_key,
                        "secret.key": secret_key})
    else:
        # Unset, S3A takes its standard chain: fs.s3a keys, the AWS_* environment variables, then the
        # instance role (whose metadata service AWS_EC2_METADATA_DISABLED=true keeps it from asking).
        options.update({"aws.credentials.provider": None, "access.key": None, "secret.key": None})
    return options


def s3a_spark_config(endpoint_url: str | None, access_key: str | None, secret_key: str | None,
                     region: str = DEFAULT_REGION, path_style: bool = True) -> dict[str, str]:
    """Spark settings for a session that reads and writes ``s3a://`` at ``endpoint_url``: the jars and
    ``spark.hadoop.fs.s3a.*``. For a session not started yet; :func:`configure_s3a` does the same on one
    already running (except the jars, which only count at JVM start)."""
    jars = s3a_jars()
    if not jars:
        raise FileNotFoundError(f"no S3A jars in {S3A_JARS_DIR}: run `make setup` (scripts/setup.sh) or set "
                                "DAYSTOSELL_S3A_JARS")
    config = {"spark.jars": ",".join(str(jar) for jar in jars)}
    for key, value in s3a_options(endpoint_url, access_key, secret_key, region, path_style).items():
        if value is not None:
            config[f"spark.hadoop.fs.s3a.{key}"] = value
    return config


def configure_s3a(spark: SparkSession, endpoint_url: str | None, access_key: str | None,
                  secret_key: str | None, region: str = DEFAULT_REGION, *, path_style: bool = True,
                  bucket: str | None = None) -> bool:
    """Points a running session's S3A at ``endpoint_url`` with these credentials; returns whether anything
    changed. With ``bucket``, only that bucket's options (``fs.s3a.bucket.<bucket>.*``) are set, so other
    buckets keep the global ones.

    Hadoop caches one FileSystem per bucket, configured when first used: when the settings change, the
    cached S3A filesystems concerned are closed, so the next access builds one with the new settings
    instead of talking to the old endpoint. Cheap when nothing changed (call it before each use)."""
    jvm: Any = spark._jvm
    hadoop_conf: Any = spark.sparkContext._jsc.hadoopConfiguration()
    if hadoop_conf.getClassByNameOrNull(S3A_FILESYSTEM) is None:
        raise RuntimeError(f"this Spark session has no S3A connector ({S3A_FILESYSTEM}): its jars must be on "
                           "spark.jars when the session starts (daystosell_assets.resources.spark_config lists "
                           f"them when {S3A_JARS_DIR} has them; run `make setup`)")
    prefix = f"fs.s3a.bucket.{bucket}." if bucket else "fs.s3a."
    options = s3a_options(endpoint_url, access_key, secret_key, region, path_style)
    changed = False
    for key in _MANAGED_KEYS:
        name, value = prefix + key, options.get(key)
        if hadoop_conf.getRaw(name) == value:
            continue
        changed = True
        if value is None:
            hadoop_conf.unset(name)
        else:
            hadoop_conf.set(name, value)
    if changed:
        _close_cached_s3a_filesystems(jvm, bucket)
    return changed


def _close_cached_s3a_filesystems(jvm: Any, bucket: str | None) -> None:
    """Closes the S3A filesystems in Hadoop's FileSystem cache (those of ``bucket``, or all): closing one
    removes it from the cache. The cache is private, hence reflection."""
    field = jvm.java.lang.Class.forName("org.apache.hadoop.fs.FileSystem").getDeclaredField("CACHE")
    field.setAccessible(True)
    cache = field.get(None)
    map_field = cache.getClass().getDeclaredField("map")
    map_field.setAccessible(True)
    for filesystem in list(jvm.java.util.ArrayList(map_field.get(cache).values())):
        uri = filesystem.getUri()
        if uri.getScheme() == "s3a" and (bucket is None or uri.getHost() == bucket):
            filesystem.close()


def s3_client(endpoint_url: str | S3Resource | None = None, access_key: str | None = None,
              secret_key: str | None = None, region: str = DEFAULT_REGION, *,
              session_token: str | None = None) -> Any:
    """A boto3 S3 client for ``endpoint_url`` (``None``: AWS itself; keys ``None``: boto3's own chain).

    Also takes dagster-aws's ``S3Resource`` in place of the endpoint, using its endpoint, keys, region,
    profile, SSL, signing and retry settings. ``S3Resource.get_client()`` itself works against S3Proxy
    (tested with ``http://127.0.0.1:PORT`` and ``http://localhost:PORT``) but takes no botocore ``Config``;
    this client pins path-style addressing, which any S3-compatible server understands.

    boto3 >= 1.36 sends CRC checksums by default; S3Proxy 4.1 accepts them (single and multipart uploads),
    so they stay on. For a server that rejects them, set ``AWS_REQUEST_CHECKSUM_CALCULATION=when_required``
    and ``AWS_RESPONSE_CHECKSUM_VALIDATION=when_required``, which boto3 reads for either client."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    max_attempts = 5
    session = boto3.session.Session()
    extra: dict[str, Any] = {}
    signing: dict[str, Any] = {}
    if endpoint_url is not None and not isinstance(endpoint_url, str):
        resource = endpoint_url
        session = boto3.session.Session(profile_name=resource.profile_name)
        endpoint_url, access_key, secret_key = (resource.endpoint_url, resource.aws_access_key_id,
                                                resource.aws_secret_access_key)
        session_token = resource.aws_session_token
        region = resource.region_name or region
        max_attempts = resource.max_attempts
        extra = {"use_ssl": resource.use_ssl, "verify": resource.verify}
        if resource.use_unsigned_session:
            signing = {"signature_version": UNSIGNED}
    config = Config(
        # A loopback server has no per-bucket DNS names.
        s3={"addressing_style": "path"},
        retries={"max_attempts": max_attempts, "mode": "standard"},
        **signing,
    )
    return session.client("s3", endpoint_url=endpoint_url, aws_access_key_id=access_key,
                          aws_secret_access_key=secret_key, aws_session_token=session_token,
                          region_name=region, config=config, **extra)
