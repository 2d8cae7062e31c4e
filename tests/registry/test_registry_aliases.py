"""The registry: versions, aliases, atomic promotion, on a folder, in memory and on S3."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fraudwatch.errors import BundleError, ConfigError, NotFoundError
from fraudwatch.registry import Bundle, MemoryStore, Registry


@pytest.fixture
def s3_root(aws_env: str) -> str:
    """A fresh bucket on the moto server; yields its s3:// URI with a prefix."""
    import boto3

    bucket = f"fw-models-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/team/fraud"


@pytest.fixture(params=["local", "memory", "s3"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    """A registry on each backend."""
    if request.param == "local":
        return Registry(tmp_path / "models")
    if request.param == "memory":
        return Registry("memory://", store=MemoryStore())
    return Registry(request.getfixturevalue("s3_root"))


def test_register_then_get_scores_identically(
    registry: Registry, make_bundle: Any, features: Any
) -> None:
    """Check that a registered bundle comes back verified and scoring identically."""
    bundle = make_bundle()
    version = registry.register(bundle)
    frame = features(42, 200)
    np.testing.assert_array_equal(registry.get(version).score(frame)[0], bundle.score(frame)[0])


def test_list_oldest_first_with_aliases(registry: Registry, make_bundle: Any) -> None:
    """Check that list() orders versions by creation time and shows aliases."""
    v1 = registry.register(make_bundle(seed=1))
    v0 = registry.register(make_bundle(seed=0))
    registry.promote(v1)
    listed = registry.list()
    assert [m.version for m in listed] == [v0, v1]
    assert listed[1].aliases == ("champion",)
    assert listed[0].model_type == "lightgbm"


def test_register_twice_is_idempotent(registry: Registry, make_bundle: Any) -> None:
    """Check that registering the same bundle again returns the same version."""
    a = registry.register(make_bundle())
    assert registry.register(make_bundle()) == a
    assert len(registry.list()) == 1


def test_version_clash_refused(registry: Registry, make_bundle: Any) -> None:
    """Check that another bundle with an existing version is refused."""
    registry.register(make_bundle(seed=0))
    src = make_bundle(seed=1)
    info = {**src.info, "version": make_bundle(seed=0).version}
    other = Bundle(model=src.model, encoder=src.encoder, detector=src.detector, info=info)
    with pytest.raises(BundleError, match="another bundle is already registered"):
        registry.register(other)


def test_promote_and_rollback(registry: Registry, make_bundle: Any) -> None:
    """Check that rollback returns the alias to the version it pointed at before."""
    v0 = registry.register(make_bundle(seed=0))
    v1 = registry.register(make_bundle(seed=1))
    at = datetime(2026, 2, 1, tzinfo=UTC)
    registry.promote(v0, at=at)
    change = registry.promote(v1, at=at)
    assert (change.previous, change.current) == (v0, v1)
    assert registry.resolve("champion") == v1
    back = registry.rollback()
    assert (back.previous, back.current) == (v1, v0)
    assert registry.get("champion").version == v0
    assert [e["action"] for e in registry.alias_history()] == ["promote", "promote", "rollback"]


def test_rollback_without_earlier_version_refused(registry: Registry, make_bundle: Any) -> None:
    """Check that rolling back an alias with no earlier version is refused."""
    registry.promote(registry.register(make_bundle()))
    with pytest.raises(NotFoundError, match="no earlier version"):
        registry.rollback()


def test_challenger_promoted_to_champion(registry: Registry, make_bundle: Any) -> None:
    """Check that an alias can be promoted by naming another alias."""
    v = registry.register(make_bundle())
    registry.promote(v, alias="challenger")
    registry.promote("challenger", alias="champion")
    assert registry.aliases() == {"champion": v, "challenger": v}


def test_unknown_alias_refused(registry: Registry, make_bundle: Any) -> None:
    """Check that promoting to an unknown alias names the allowed ones."""
    v = registry.register(make_bundle())
    with pytest.raises(ConfigError, match=r"unknown alias 'prod'.*champion, challenger"):
        registry.promote(v, alias="prod")


def test_unknown_version_refused(registry: Registry, make_bundle: Any) -> None:
    """Check that an unknown version is refused with the known ones listed."""
    v = registry.register(make_bundle())
    with pytest.raises(NotFoundError, match=f"no model version or alias 'v9'.*{v}"):
        registry.get("v9")


def test_unset_alias_explained(registry: Registry) -> None:
    """Check that resolving an unset alias says how to set it."""
    with pytest.raises(NotFoundError, match=r"alias 'champion' is not set.*models promote"):
        registry.get("champion")


def test_incomplete_version_not_listed(registry: Registry, make_bundle: Any) -> None:
    """Check that a version without its manifest (being uploaded) is neither listed nor got."""
    registry.register(make_bundle())
    registry.store.write_atomic("versions/20990101T000000Z-partial/model.txt", b"half")
    assert len(registry.list()) == 1
    with pytest.raises(NotFoundError):
        registry.get("20990101T000000Z-partial")


def test_tampered_bundle_not_promoted(tmp_path: Path, make_bundle: Any) -> None:
    """Check that a registered bundle modified afterwards is refused on promotion."""
    registry = Registry(tmp_path)
    v = registry.register(make_bundle())
    path = tmp_path / "versions" / v / "model.txt"
    path.write_bytes(path.read_bytes().replace(b"Tree=0", b"Tree=1", 1))
    with pytest.raises(BundleError, match=r"model\.txt"):
        registry.promote(v)
    assert registry.aliases() == {}


def test_promote_naive_time_refused(registry: Registry, make_bundle: Any) -> None:
    """Check that a promotion time without a zone is refused."""
    v = registry.register(make_bundle())
    with pytest.raises(ConfigError, match="timezone-aware"):
        registry.promote(v, at=datetime(2026, 1, 1))


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_concurrent_reader_always_gets_a_verified_bundle(
    backend: str, tmp_path: Path, make_bundle: Any, request: pytest.FixtureRequest
) -> None:
    """Check that a reader loading the champion while it is promoted back and forth never fails."""
    root = str(tmp_path / "reg") if backend == "local" else request.getfixturevalue("s3_root")
    writer_reg = Registry(root)
    versions = [writer_reg.register(make_bundle(seed=s)) for s in (0, 1)]
    writer_reg.promote(versions[0])
    errors: list[BaseException] = []
    seen: set[str] = set()
    stop = threading.Event()

    def reader() -> None:
        reg = Registry(root)
        while not stop.is_set():
            try:
                seen.add(reg.get("champion").version)
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(40 if backend == "local" else 8):
            writer_reg.promote(versions[(i + 1) % 2])
            if i % 5 == 0:
                writer_reg.rollback()
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors[0]
    assert seen <= set(versions)
    assert seen
