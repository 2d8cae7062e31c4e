"""Where input files come from: local paths or ``s3://`` URIs, and what format they hold.

Objects in S3 (or any S3-compatible store) are streamed by boto3 into a temporary file that
lives as long as the read; the endpoint, region and credentials come from the standard AWS
environment variables and profile (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...).
"""

from __future__ import annotations

import gzip
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from fraudwatch.errors import ConfigError, InputFileError
from fraudwatch.io.writers import FileFormat, format_from_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "LocalInput",
    "is_s3_uri",
    "open_input",
    "split_s3_uri",
]

log = logging.getLogger(__name__)

SNIFF_BYTES = 65_536
_SUFFIX_HINT = "name it .csv, .jsonl (or .ndjson) or .parquet; .csv.gz and .jsonl.gz are read too"


@dataclass(frozen=True)
class LocalInput:
    """A readable local file standing for what the user named.

    Attributes
    ----------
    path:
        The local file (a temporary copy for ``s3://`` sources).
    display:
        The path or URI as the user gave it, for messages.
    fmt:
        ``csv``, ``jsonl`` or ``parquet``.
    gzipped:
        The file is gzip-compressed (``.gz`` suffix).
    """

    path: Path
    display: str
    fmt: FileFormat
    gzipped: bool


def is_s3_uri(source: str | Path) -> bool:
    """Tell whether ``source`` is an ``s3://`` URI.

    >>> is_s3_uri("s3://bucket/tx.csv"), is_s3_uri("data/tx.csv")
    (True, False)
    """
    return isinstance(source, str) and source.lower().startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``.

    >>> split_s3_uri("s3://b/dir/tx.csv")
    ('b', 'dir/tx.csv')
    """
    rest = uri[5:]
    bucket, _, key = rest.partition("/")
    if not bucket or not key or key.endswith("/"):
        raise InputFileError(
            f"{uri} is not an S3 object URI; write it as s3://bucket/path/to/file.csv", path=uri
        )
    return bucket, key


def _format_of(name: str) -> tuple[FileFormat, bool]:
    path = PurePosixPath(name)
    gzipped = path.suffix.lower() == ".gz"
    inner = path.with_suffix("") if gzipped else path
    try:
        fmt = format_from_path(str(inner))
    except ConfigError:
        raise InputFileError(
            f"cannot tell the format of {name} from its suffix: {_SUFFIX_HINT}", path=name
        ) from None
    if gzipped and fmt == "parquet":
        raise InputFileError(
            f"{name}: Parquet files are compressed inside; remove the .gz and gunzip it",
            path=name,
        )
    return fmt, gzipped


def _s3_client() -> S3Client:
    try:
        import boto3
    except ImportError:  # pragma: no cover - boto3 is in the dev environment
        raise ConfigError("reading s3:// URIs needs boto3: pip install 'fraudwatch[aws]'") from None
    client: S3Client = boto3.client("s3")
    return client


def _s3_error(uri: str, exc: Exception) -> InputFileError:
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return InputFileError(f"{uri} does not exist; check the bucket and key", path=uri)
        if code == "NoSuchBucket":
            return InputFileError(f"bucket of {uri} does not exist; check its name", path=uri)
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return InputFileError(
                f"access to {uri} was denied ({code}); check AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE and the bucket policy",
                path=uri,
            )
        return InputFileError(f"cannot read {uri}: {code or exc}", path=uri)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return InputFileError(
            f"no AWS credentials to read {uri}; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_ENDPOINT_URL for a non-AWS store",
            path=uri,
        )
    return InputFileError(
        f"cannot reach the object store for {uri}: {exc}; check AWS_ENDPOINT_URL and the network",
        path=uri,
    )


def _download(uri: str, dest: Path) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(uri)
    client = _s3_client()
    try:
        client.download_file(bucket, key, str(dest))
    except (ClientError, BotoCoreError) as exc:
        raise _s3_error(uri, exc) from None
    log.debug("downloaded %s to %s", uri, dest)


def _head(path: Path, gzipped: bool) -> bytes:
    if not gzipped:
        with path.open("rb") as fh:
            return fh.read(SNIFF_BYTES)
    try:
        with gzip.open(path, "rb") as gz:
            return gz.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise InputFileError(
            f"{path.name} is not a valid gzip file ({exc}); check the file or drop the .gz",
            path=str(path),
        ) from None


def _undecodable_share(head: bytes) -> tuple[int, int]:
    lines = head.split(b"\n")
    if len(head) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut in the middle of a character
    bad = 0
    counted = 0
    for line in lines:
        if not line.strip():
            continue
        counted += 1
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    return bad, counted


def _sniff_text(display: str, head: bytes, fmt: FileFormat) -> None:
    """Reject text inputs that are clearly something else, with a hint."""
    what = "CSV" if fmt == "csv" else "JSON Lines"
    if head.startswith(b"PAR1"):
        raise InputFileError(
            f"{display} is a Parquet file, not {what}; rename it with a .parquet suffix",
            path=display,
        )
    if head.startswith(b"\x1f\x8b"):
        raise InputFileError(
            f"{display} is gzip-compressed; add .gz to its name (e.g. tx.{fmt}.gz)", path=display
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(
            f"{display} is UTF-16 text; convert it to UTF-8, e.g. "
            f"iconv -f UTF-16 -t UTF-8 {display} > fixed.{fmt}",
            path=display,
        )
    if b"\x00" in head:
        raise InputFileError(
            f"{display} holds binary data (NUL bytes), not {what} text; check the file or its "
            "suffix",
            path=display,
        )
    bad, counted = _undecodable_share(head)
    if counted and bad * 2 > counted:
        raise InputFileError(
            f"{display} is not UTF-8 text ({bad} of its first {counted} lines are not); "
            f"convert it, e.g. iconv -f LATIN1 -t UTF-8 {display} > fixed.{fmt}",
            path=display,
        )
    if fmt == "jsonl":
        first = next((ln.strip() for ln in head.split(b"\n") if ln.strip()), b"")
        first = first.removeprefix(b"\xef\xbb\xbf")
        if first.startswith(b"["):
            raise InputFileError(
                f"{display} is a JSON array, not JSON Lines; write one object per line, "
                f"e.g. jq -c '.[]' {display} > fixed.jsonl",
                path=display,
            )
        if first and not first.startswith(b"{"):
            raise InputFileError(
                f"{display} is not JSON Lines: its first line is not a JSON object; check the "
                "file, or name a CSV file .csv",
                path=display,
            )
    if fmt == "csv" and head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith((b"{", b"[")):
        raise InputFileError(
            f"{display} looks like JSON, not CSV; name a JSON Lines file .jsonl", path=display
        )


def _check_local(local: LocalInput) -> None:
    path = local.path
    if path.stat().st_size == 0:
        raise InputFileError(
            f"{local.display} is empty (0 bytes); export the transactions again", path=local.display
        )
    if local.fmt == "parquet":
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic != b"PAR1":
            raise InputFileError(
                f"{local.display} is not a Parquet file (no PAR1 header); if it is CSV or JSON "
                "Lines, give it a .csv or .jsonl suffix",
                path=local.display,
            )
        return
    head = _head(path, local.gzipped)
    if not head.strip():
        raise InputFileError(
            f"{local.display} is empty (no text, only blank lines); export the transactions again",
            path=local.display,
        )
    _sniff_text(local.display, head, local.fmt)


@contextmanager
def open_input(source: str | Path) -> Iterator[LocalInput]:
    """Resolve ``source`` to a checked local file for the duration of the ``with`` block.

    Parameters
    ----------
    source:
        A local path or an ``s3://bucket/key`` URI.

    Raises
    ------
    InputFileError
        Missing, empty, unreadable or mis-named input; the message says how to fix it.
    """
    text = str(source)
    if is_s3_uri(text):
        _, key = split_s3_uri(text)
        fmt, gzipped = _format_of(key)
        with tempfile.TemporaryDirectory(prefix="fraudwatch-s3-") as tmp:
            dest = Path(tmp) / PurePosixPath(key).name
            _download(text, dest)
            local = LocalInput(dest, text, fmt, gzipped)
            _check_local(local)
            yield local
        return
    path = Path(text).expanduser()
    fmt, gzipped = _format_of(path.name)
    if not path.exists():
        raise InputFileError(f"{text} does not exist; check the path", path=text)
    if path.is_dir():
        raise InputFileError(f"{text} is a folder; give the path of one file", path=text)
    try:
        local = LocalInput(path, text, fmt, gzipped)
        _check_local(local)
    except PermissionError:
        raise InputFileError(f"{text} cannot be read (permission denied)", path=text) from None
    yield local
