"""Reading s3:// URIs through boto3 against moto's server (the path a user runs)."""

from __future__ import annotations

import gzip
import os
import uuid
from pathlib import Path

import pytest
from io_cases import csv_bytes, jsonl_bytes, simple_rows, write_rows

from fraudwatch.errors import InputFileError
from fraudwatch.io import iter_transaction_batches, read_transactions

pytest.importorskip("boto3")


@pytest.fixture
def bucket(aws_env: str) -> str:
    """A fresh bucket on the moto server."""
    import boto3

    name = f"fw-io-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def _put(bucket: str, key: str, body: bytes) -> str:
    import boto3

    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".csv.gz"])
def test_s3_object_reads_like_the_local_file(tmp_path: Path, bucket: str, suffix: str) -> None:
    """Check that an S3 object gives the same accepted and rejected rows as the local file."""
    rows = simple_rows(8)
    rows[3]["amount"] = -4.0
    local = write_rows(tmp_path / f"tx{suffix.removesuffix('.gz')}", rows)
    body = jsonl_bytes(rows) if suffix == ".jsonl" else csv_bytes(rows)
    if suffix.endswith(".gz"):
        body = gzip.compress(body)
    uri = _put(bucket, f"in/tx{suffix}", body)
    remote = read_transactions(uri)
    here = read_transactions(local)
    assert remote.source == uri
    assert remote.data.equals(here.data)
    assert remote.rejected.equals(here.rejected)


def test_s3_parquet_is_read(tmp_path: Path, bucket: str) -> None:
    """Check that a Parquet object is read through the same code path."""
    frame = read_transactions(write_rows(tmp_path / "tx.csv", simple_rows(5))).data
    frame.write_parquet(tmp_path / "tx.parquet")
    uri = _put(bucket, "tx.parquet", (tmp_path / "tx.parquet").read_bytes())
    assert read_transactions(uri).data.equals(frame)


def test_s3_temporary_copy_is_removed(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that the temporary download is deleted once the batches are consumed."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    uri = _put(bucket, "tx.csv", csv_bytes(simple_rows(3)))
    batches = iter_transaction_batches(uri, batch_rows=1)
    next(batches)
    assert len(os.listdir(scratch)) == 1
    batches.close()
    assert os.listdir(scratch) == []


def test_missing_s3_object_is_an_input_file_error(bucket: str) -> None:
    """Check that a missing key is reported with the URI."""
    with pytest.raises(InputFileError, match=rf"s3://{bucket}/nope\.csv does not exist"):
        read_transactions(f"s3://{bucket}/nope.csv")


def test_missing_bucket_is_an_input_file_error(aws_env: str) -> None:
    """Check that a missing bucket is reported, not raised as a botocore error."""
    with pytest.raises(InputFileError, match="does not exist"):
        read_transactions(f"s3://fw-no-such-bucket-{uuid.uuid4().hex[:8]}/tx.csv")


def test_unreachable_endpoint_is_an_input_file_error(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that a wrong AWS_ENDPOINT_URL gives a message pointing at it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(InputFileError, match="AWS_ENDPOINT_URL"):
        read_transactions("s3://bucket/tx.csv")


@pytest.mark.parametrize("uri", ["s3://bucket-only", "s3://bucket/folder/"])
def test_incomplete_s3_uri_is_an_input_file_error(uri: str) -> None:
    """Check that an S3 URI without an object key is refused with the expected form."""
    with pytest.raises(InputFileError, match=r"s3://bucket/path/to/file\.csv"):
        read_transactions(uri)
