"""Where bundles and aliases live: a local folder or an S3 prefix, behind one small interface.

Both stores publish atomically:

* :class:`LocalStore` writes a bundle into a hidden temporary folder beside its final place
  and renames it in one step; single files (aliases) are written to a temporary file and
  ``os.replace``-d. A reader sees the old state or the new one, never a partial one.
* :class:`S3Store` uploads a bundle's files first and its ``manifest.json`` last; a version
  counts only once its manifest exists. An alias is one object, replaced by a single PUT.

:class:`MemoryStore` is the in-memory twin used by tests of code that needs a store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from fraudwatch.errors import ConfigError, FraudwatchError, InputFileError, NotFoundError

__all__ = ["LocalStore", "MemoryStore", "S3Store", "Store", "open_store", "split_s3_uri"]

log = logging.getLogger(__name__)


class Store(Protocol):
    """Keys are ``/``-separated paths relative to the store's root."""

    uri: str

    def read(self, key: str) -> bytes:
        """The content of ``key``; :class:`NotFoundError` when absent."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        ...

    def list_files(self, prefix: str) -> list[str]:
        """Every key under ``prefix/`` (recursively), relative to that prefix, sorted."""
        ...

    def list_dirs(self, prefix: str) -> list[str]:
        """Immediate sub-folders of ``prefix/``, sorted."""
        ...

    def publish_tree(self, prefix: str, files: Mapping[str, bytes], *, last: str) -> None:
        """Create ``prefix/`` holding ``files`` atomically; refuse if it exists."""
        ...

    def write_atomic(self, key: str, data: bytes) -> None:
        """Create or replace ``key`` so readers see the old or the new content only."""
        ...

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock for a read-modify-write of ``name`` (best effort on S3)."""
        ...


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``.

    >>> split_s3_uri("s3://models/fraud/prod/")
    ('models', 'fraud/prod')

    Raises
    ------
    ConfigError
        The URI has no bucket.
    """
    rest = uri[len("s3://") :] if uri.startswith("s3://") else uri
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError(f"S3 URI {uri!r} has no bucket; write it as s3://bucket/prefix")
    return bucket, prefix.strip("/")


def open_store(root: str | Path, *, s3_client: Any | None = None) -> Store:
    """A :class:`LocalStore` for a path, an :class:`S3Store` for ``s3://bucket/prefix``."""
    text = str(root)
    if text.startswith("s3://"):
        bucket, prefix = split_s3_uri(text)
        return S3Store(bucket, prefix, client=s3_client)
    if "://" in text:
        raise ConfigError(
            f"unsupported location {text!r}: use a local folder or s3://bucket/prefix"
        )
    return LocalStore(Path(text))


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
        raise ConfigError(f"invalid storage key {key!r}")
    return key


class LocalStore:
    """A folder on the local file system.

    Parameters
    ----------
    root:
        The folder (created on first write).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.uri = str(self.root)
        self._thread_lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).split("/"))

    def read(self, key: str) -> bytes:
        """The content of ``key``."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{path} does not exist") from None
        except IsADirectoryError:
            raise InputFileError(f"{path} is a folder, not a file", path=str(path)) from None

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists as a file or folder."""
        return self._path(key).exists()

    def list_files(self, prefix: str) -> list[str]:
        """Every file under ``prefix`` (recursively), relative to it."""
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    def list_dirs(self, prefix: str) -> list[str]:
        """Immediate sub-folders of ``prefix`` (hidden temporary folders excluded)."""
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))

    def publish_tree(self, prefix: str, files: Mapping[str, bytes], *, last: str) -> None:
        """Write ``files`` into a temporary folder, then rename it to ``prefix`` in one step.

        Raises
        ------
        FraudwatchError
            ``prefix`` already exists.
        """
        final = self._path(prefix)
        if final.exists():
            raise FraudwatchError(f"{final} already exists; refusing to overwrite it")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
        try:
            order = [k for k in files if k != last] + ([last] if last in files else [])
            for name in order:
                target = tmp.joinpath(*_check_key(name).split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as fh:
                    fh.write(files[name])
                    fh.flush()
                    os.fsync(fh.fileno())
            os.rename(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.exists():
                raise FraudwatchError(f"{final} already exists; refusing to overwrite it") from None
            raise FraudwatchError(f"could not write {final}: {exc}") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(final.parent)

    def write_atomic(self, key: str, data: bytes) -> None:
        """Write to a temporary file in the same folder, then ``os.replace`` it."""
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(final.parent)

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive ``flock`` on ``.<name>.lock`` (and a lock between threads)."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.parent / f".{path.name}.lock"
        with self._thread_lock, open(lock_path, "a+b") as fh:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not POSIX
                yield
                return
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


class S3Store:
    """An S3 bucket and prefix (boto3; ``AWS_ENDPOINT_URL`` is honoured).

    Parameters
    ----------
    bucket, prefix:
        Where the registry lives.
    client:
        A boto3 S3 client; by default one is created on first use.
    """

    def __init__(self, bucket: str, prefix: str = "", *, client: Any | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 client."""
        if self._client is None:
            try:
                import boto3
            except ImportError:  # pragma: no cover - the dev environment has boto3
                raise ConfigError(
                    "s3:// locations need boto3: pip install 'fraudwatch[aws]'"
                ) from None
            self._client = boto3.client("s3")
        return self._client

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _base(self, prefix: str) -> str:
        full = self._key(prefix) if prefix else self.prefix
        return f"{full}/" if full else ""

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotFoundError(f"{what}: not found") from None
            if code == "NoSuchBucket":
                raise ConfigError(
                    f"bucket {self.bucket!r} does not exist; create it or fix the s3:// URI"
                ) from None
            raise FraudwatchError(f"{what}: S3 error {code}: {exc}") from exc
        except BotoCoreError as exc:
            raise FraudwatchError(f"{what}: {exc}") from exc

    def read(self, key: str) -> bytes:
        """The content of ``key``."""
        full = self._key(key)
        resp = self._call(
            f"s3://{self.bucket}/{full}", self.client.get_object, Bucket=self.bucket, Key=full
        )
        body: bytes = resp["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        """Whether the object ``key`` exists."""
        try:
            self._call("head", self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        except NotFoundError:
            return False
        return True

    def _list(self, prefix: str, delimiter: str | None) -> tuple[list[str], list[str]]:
        base = self._base(prefix)
        keys: list[str] = []
        dirs: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": base}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        while True:
            resp = self._call(
                f"list s3://{self.bucket}/{base}", self.client.list_objects_v2, **kwargs
            )
            keys.extend(obj["Key"][len(base) :] for obj in resp.get("Contents", []))
            dirs.extend(
                p["Prefix"][len(base) :].rstrip("/") for p in resp.get("CommonPrefixes", [])
            )
            if not resp.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]
        return sorted(keys), sorted(dirs)

    def list_files(self, prefix: str) -> list[str]:
        """Every object under ``prefix/``, relative to it."""
        return self._list(prefix, None)[0]

    def list_dirs(self, prefix: str) -> list[str]:
        """Immediate "folders" under ``prefix/``."""
        return self._list(prefix, "/")[1]

    def publish_tree(self, prefix: str, files: Mapping[str, bytes], *, last: str) -> None:
        """Upload every file, ``last`` (the manifest) at the end.

        Raises
        ------
        FraudwatchError
            ``prefix/last`` already exists.
        """
        if self.exists(f"{prefix}/{last}"):
            raise FraudwatchError(f"{self.uri}/{prefix} already exists; refusing to overwrite it")
        order = [k for k in files if k != last] + ([last] if last in files else [])
        for name in order:
            full = self._key(f"{prefix}/{name}")
            self._call(
                f"put s3://{self.bucket}/{full}",
                self.client.put_object,
                Bucket=self.bucket,
                Key=full,
                Body=files[name],
            )

    def write_atomic(self, key: str, data: bytes) -> None:
        """One PUT: S3 replaces an object atomically."""
        full = self._key(key)
        self._call(
            f"put s3://{self.bucket}/{full}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=full,
            Body=data,
        )

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """No lock on S3: concurrent alias changes are last-writer-wins (documented)."""
        yield


class MemoryStore:
    """An in-memory store (tests, and code that needs a throw-away registry)."""

    def __init__(self) -> None:
        self.uri = "memory://"
        self.objects: dict[str, bytes] = {}
        self._lock = threading.RLock()

    def read(self, key: str) -> bytes:
        """The content of ``key``."""
        try:
            return self.objects[_check_key(key)]
        except KeyError:
            raise NotFoundError(f"memory://{key} does not exist") from None

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists (as an object or a prefix)."""
        return key in self.objects or any(k.startswith(key + "/") for k in self.objects)

    def list_files(self, prefix: str) -> list[str]:
        """Every object under ``prefix/``."""
        base = f"{prefix}/" if prefix else ""
        return sorted(k[len(base) :] for k in self.objects if k.startswith(base))

    def list_dirs(self, prefix: str) -> list[str]:
        """Immediate "folders" under ``prefix/``."""
        return sorted({f.split("/")[0] for f in self.list_files(prefix) if "/" in f})

    def publish_tree(self, prefix: str, files: Mapping[str, bytes], *, last: str) -> None:
        """Add every file at once."""
        with self._lock:
            if self.exists(prefix):
                raise FraudwatchError(f"memory://{prefix} already exists")
            self.objects.update({f"{prefix}/{k}": bytes(v) for k, v in files.items()})

    def write_atomic(self, key: str, data: bytes) -> None:
        """Replace ``key``."""
        with self._lock:
            self.objects[_check_key(key)] = bytes(data)

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """A re-entrant lock."""
        with self._lock:
            yield
