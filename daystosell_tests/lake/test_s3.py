"""The lake on a real S3 server: S3Proxy on loopback (scripts/s3_server.py), reached by boto3, dagster-aws
and Spark's S3A connector."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from daystosell_assets.lake.s3 import configure_s3a, s3_client, s3a_spark_config
from daystosell_tests.conftest import load_script

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


s3_server = load_script("s3_server")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    with s3_server.running_s3_server(tmp_path / "s3") as running:
        yield running


def unique_bucket() -> str:
    # Hadoop caches one S3A filesystem per bucket name for the whole session: a fresh name per test.
    return f"lake-{uuid.uuid4().hex[:12]}"


def test_server_speaks_s3_with_multipart_uploads(server: Any) -> None:
    s3 = s3_client(server.endpoint_url, server.access_key, server.secret_key, server.region)
    s3.create_bucket(Bucket="raw")
    s3.put_object(Bucket="raw", Key="notes/hello.txt", Body=b"hello")
    assert s3.get_object(Bucket="raw", Key="notes/hello.txt")["Body"].read() == b"hello"

    # S3A uploads big files in parts; so does boto3 past its threshold: 12 MB in 5 MB parts.
    payload = os.urandom(12 * MB)
    s3.upload_fileobj(io.BytesIO(payload), "raw", "big/blob.bin",
                      Config=TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB))
    head = s3.head_object(Bucket="raw", Key="big/blob.bin")
    assert head["ContentLength"] == len(payload)
    assert head["ETag"].strip('"').endswith("-3"), "a multipart object's ETag ends with its part count"
    assert s3.get_object(Bucket="raw", Key="big/blob.bin")["Body"].read() == payload
    listed = s3.list_objects_v2(Bucket="raw")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["big/blob.bin", "notes/hello.txt"]
    # On disk, one folder per bucket and one file per object.
    assert (server.buckets_dir / "raw" / "big" / "blob.bin").read_bytes() == payload

    # Requests are really authenticated.
    wrong = s3_client(server.endpoint_url, server.access_key, "not-the-secret", server.region)
    with pytest.raises(ClientError) as refused:
        wrong.list_objects_v2(Bucket="raw")
    assert refused.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"}


def test_dagster_s3_resource_reaches_the_server(server: Any) -> None:
    from dagster_aws.s3 import S3Resource

    resource = S3Resource(endpoint_url=server.endpoint_url, aws_access_key_id=server.access_key,
                          aws_secret_access_key=server.secret_key, region_name=server.region)
    # dagster-aws's own client: path-style by itself, since the endpoint is an IP address.
    resource.get_client().create_bucket(Bucket="curated")
    resource.get_client().put_object(Bucket="curated", Key="a.txt", Body=b"a")
    # The project's factory takes the resource in place of the endpoint.
    assert s3_client(resource).get_object(Bucket="curated", Key="a.txt")["Body"].read() == b"a"


def test_server_stops_with_its_context(tmp_path: Path) -> None:
    with s3_server.running_s3_server(tmp_path / "s3") as running:
        assert s3_server.read_server(running.data_dir) == running
        pid = running.pid
    assert not s3_server.alive(pid)
    assert s3_server.read_server(tmp_path / "s3") is None
    assert "Started" in running.log_path.read_text()


def test_s3a_spark_config_for_a_new_session() -> None:
    config = s3a_spark_config("http://127.0.0.1:9555", "key", "secret")
    jars = config["spark.jars"].split(",")
    assert any(Path(jar).name.startswith("hadoop-aws-") for jar in jars)
    # Not the AWS SDK bundle, nor a second copy of what Spark ships.
    shipped_by_spark = ("bundle-", "hadoop-client-", "jackson-", "netty-common-", "netty-handler-", "httpclient-")
    assert not any(Path(jar).name.startswith(shipped_by_spark) for jar in jars)
    assert config["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9555"
    assert config["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert config["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert config["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith("SimpleAWSCredentialsProvider")
    # Without keys: S3A's standard credential chain, nothing pinned.
    anonymous = s3a_spark_config(None, None, None)
    assert "spark.hadoop.fs.s3a.endpoint" not in anonymous
    assert "spark.hadoop.fs.s3a.aws.credentials.provider" not in anonymous
    assert anonymous["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"


@pytest.mark.spark
def test_spark_writes_and_reads_parquet_on_s3(spark: Any, server: Any) -> None:
    bucket = unique_bucket()
    s3 = s3_client(server.endpoint_url, server.access_key, server.secret_key, server.region)
    s3.create_bucket(Bucket=bucket)
    assert configure_s3a(spark, server.endpoint_url, server.access_key, server.secret_key, server.region,
                         bucket=bucket)
    assert not configure_s3a(spark, server.endpoint_url, server.access_key, server.secret_key, server.region,
                             bucket=bucket), "unchanged settings leave the session alone"

    rows = [(i, f"advert-{i}", i * 1.5) for i in range(50)]
    frame = spark.createDataFrame(rows, "id int, title string, price double").repartition(3)
    frame.write.mode("overwrite").parquet(f"s3a://{bucket}/prefix/t")

    back = spark.read.parquet(f"s3a://{bucket}/prefix/t")
    assert sorted(tuple(r) for r in back.collect()) == rows

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="prefix/")["Contents"]]
    assert "prefix/t/_SUCCESS" in keys
    parts = [k for k in keys if k.startswith("prefix/t/part-") and k.endswith(".parquet")]
    assert len(parts) == 3, keys


@pytest.mark.spark
def test_s3a_uploads_big_files_in_parts(spark: Any, server: Any) -> None:
    from pyspark.sql import functions as F

    bucket = unique_bucket()
    s3 = s3_client(server.endpoint_url, server.access_key, server.secret_key, server.region)
    s3.create_bucket(Bucket=bucket)
    configure_s3a(spark, server.endpoint_url, server.access_key, server.secret_key, server.region, bucket=bucket)
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    # S3's smallest part size, so a ~15 MB file goes up in parts as big files do at the 64 MB default.
    hadoop_conf.set(f"fs.s3a.bucket.{bucket}.multipart.size", "5M")
    hadoop_conf.set(f"fs.s3a.bucket.{bucket}.multipart.threshold", "5M")

    # Hex digests barely compress: one ~15 MB Parquet file.
    frame = spark.range(0, 120_000, numPartitions=1).select(F.sha2(F.col("id").cast("string"), 512).alias("h"))
    frame.write.mode("overwrite").parquet(f"s3a://{bucket}/big")

    [part] = [o for o in s3.list_objects_v2(Bucket=bucket, Prefix="big/")["Contents"]
              if o["Key"].endswith(".parquet")]
    assert part["Size"] > 10 * MB
    etag = s3.head_object(Bucket=bucket, Key=part["Key"])["ETag"].strip('"')
    assert "-" in etag and int(etag.rsplit("-", 1)[1]) >= 2, f"not uploaded in parts: ETag {etag}"
    assert spark.read.parquet(f"s3a://{bucket}/big").count() == 120_000

    # A rename of a big object is a multipart copy through the AWS SDK's async (Netty) client, running on
    # the Netty Spark ships: the one dependency this S3A set shares with Spark instead of bringing.
    jvm = spark._jvm
    source = jvm.org.apache.hadoop.fs.Path(f"s3a://{bucket}/{part['Key']}")
    filesystem = source.getFileSystem(hadoop_conf)
    assert filesystem.rename(source, jvm.org.apache.hadoop.fs.Path(f"s3a://{bucket}/moved/big.parquet"))
    assert s3.head_object(Bucket=bucket, Key="moved/big.parquet")["ContentLength"] == part["Size"]
    assert spark.read.parquet(f"s3a://{bucket}/moved").count() == 120_000


@pytest.mark.spark
def test_configure_s3a_repoints_a_bucket_to_another_server(spark: Any, tmp_path: Path) -> None:
    # Hadoop caches the bucket's filesystem with the first server's endpoint: re-pointing must drop it.
    bucket = unique_bucket()
    for name in ("first", "second"):
        with s3_server.running_s3_server(tmp_path / name) as running:
            s3 = s3_client(running.endpoint_url, running.access_key, running.secret_key, running.region)
            s3.create_bucket(Bucket=bucket)
            configure_s3a(spark, running.endpoint_url, running.access_key, running.secret_key, running.region,
                          bucket=bucket)
            spark.createDataFrame([(name,)], "server string").write.mode("overwrite").parquet(f"s3a://{bucket}/t")
            assert [r.server for r in spark.read.parquet(f"s3a://{bucket}/t").collect()] == [name]
            assert s3.list_objects_v2(Bucket=bucket, Prefix="t/")["KeyCount"] >= 2
