"""The storage contract every registry backend passes: local folder, memory, S3 (moto)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from fraudwatch.errors import ConfigError, FraudwatchError, NotFoundError
from fraudwatch.registry import LocalStore, MemoryStore, S3Store, Store, load_bundle, open_store


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A store on each backend."""
    if request.param == "local":
        return LocalStore(tmp_path / "root")
    if request.param == "memory":
        return MemoryStore()
    request.getfixturevalue("aws_env")
    import boto3

    bucket = f"fw-store-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return S3Store(bucket, "some/prefix")


def test_publish_then_read_and_list(store: Store) -> None:
    """Check that a published tree can be listed and read back."""
    store.publish_tree("v/1", {"a.txt": b"A", "sub/b.txt": b"B", "m.json": b"{}"}, last="m.json")
    assert store.list_files("v/1") == ["a.txt", "m.json", "sub/b.txt"]
    assert store.list_dirs("v") == ["1"]
    assert store.read("v/1/sub/b.txt") == b"B"
    assert store.exists("v/1/a.txt")


def test_publish_refuses_existing(store: Store) -> None:
    """Check that publishing over an existing tree is refused."""
    store.publish_tree("v/1", {"m.json": b"{}"}, last="m.json")
    with pytest.raises(FraudwatchError, match="already exists"):
        store.publish_tree("v/1", {"m.json": b"{}"}, last="m.json")


def test_write_atomic_replaces(store: Store) -> None:
    """Check that an atomic write replaces the previous content."""
    store.write_atomic("aliases/champion.json", b"1")
    store.write_atomic("aliases/champion.json", b"2")
    assert store.read("aliases/champion.json") == b"2"


def test_read_missing_is_not_found(store: Store) -> None:
    """Check that reading a missing key raises NotFoundError."""
    with pytest.raises(NotFoundError):
        store.read("nothing/here")
    assert not store.exists("nothing/here")


def test_list_of_missing_prefix_is_empty(store: Store) -> None:
    """Check that listing under a missing prefix gives nothing."""
    assert store.list_files("none") == []
    assert store.list_dirs("none") == []


@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", "a/./b"])
def test_unsafe_keys_refused(store: Store, key: str) -> None:
    """Check that keys escaping the root are refused."""
    with pytest.raises(ConfigError, match="invalid storage key"):
        store.write_atomic(key, b"x")


def test_unknown_scheme_refused() -> None:
    """Check that a location with another scheme is refused with the supported ones."""
    with pytest.raises(ConfigError, match=r"local folder or s3://bucket/prefix"):
        open_store("gs://bucket/x")


def test_s3_uri_without_bucket_refused() -> None:
    """Check that an s3:// URI without a bucket is refused."""
    with pytest.raises(ConfigError, match="has no bucket"):
        open_store("s3:///prefix")


def test_load_bundle_from_s3_uri(aws_env: str, make_bundle: Any) -> None:
    """Check that load_bundle reads and verifies a bundle from an s3:// URI."""
    import boto3

    bucket = f"fw-bundle-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    bundle = make_bundle()
    bundle.copy_to(S3Store(bucket), "models/b1")
    loaded = load_bundle(f"s3://{bucket}/models/b1")
    assert loaded.version == bundle.version


def test_missing_bucket_is_a_user_error(aws_env: str) -> None:
    """Check that a bucket that does not exist gives a ConfigError naming it."""
    with pytest.raises(ConfigError, match="bucket 'fw-no-such-bucket' does not exist"):
        S3Store("fw-no-such-bucket").read("x")
