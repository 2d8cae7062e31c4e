"""``manifest.json``: what a bundle holds, where it came from, and the hash of every file.

The manifest also carries ``manifest_sha256``, the SHA-256 of its own canonical JSON without
that field, so an edited manifest is refused like an edited model file. These hashes detect
corruption and tampering by anyone who does not recompute them; they are not a signature —
protect the registry's storage (permissions, bucket policy) against writers you don't trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from fraudwatch.errors import BundleError

__all__ = [
    "MANIFEST_FILE",
    "REQUIRED_FIELDS",
    "SCHEMA_VERSION",
    "VERSION_RE",
    "canonical_json",
    "check_manifest",
    "library_versions",
    "manifest_digest",
    "sha256_hex",
]

MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1
"""Version of the manifest layout this release writes and reads."""

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""Allowed model version strings (they are folder names)."""

REQUIRED_FIELDS: tuple[str, ...] = (
    "schema_version",
    "name",
    "version",
    "created_at",
    "model_type",
    "model_params",
    "profile",
    "feature_set",
    "encoding",
    "anomaly",
    "thresholds",
    "metrics",
    "training",
    "libraries",
    "files",
    "manifest_sha256",
)

_LIBRARIES = {
    "fraudwatch": "fraudwatch",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "scikit-learn": "scikit-learn",
    "polars": "polars",
    "numpy": "numpy",
}


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    >>> sha256_hex(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, exact floats, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the manifest's canonical JSON without ``manifest_sha256``."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return sha256_hex(canonical_json(body))


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that trained the model (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for key, dist in _LIBRARIES.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    if out.get("xgboost") is None:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out["xgboost"] = metadata.version("xgboost-cpu")
    out["python"] = platform.python_version()
    return out


def check_manifest(manifest: Any, *, where: str) -> dict[str, Any]:
    """Validate the manifest's layout version, required fields and self-hash.

    Raises
    ------
    BundleError
        Unknown schema version, a missing field, or a manifest edited after it was written.
    """
    if not isinstance(manifest, dict):
        raise BundleError(f"{MANIFEST_FILE} in {where} must hold a JSON object")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BundleError(
            f"{MANIFEST_FILE} in {where} has schema_version {version!r}; this fraudwatch reads "
            f"version {SCHEMA_VERSION}: upgrade fraudwatch or retrain the model"
        )
    missing = [f for f in REQUIRED_FIELDS if f not in manifest]
    if missing:
        raise BundleError(
            f"{MANIFEST_FILE} in {where} lacks field(s) {', '.join(missing)}; "
            "the bundle is incomplete — retrain or re-export it"
        )
    expected = manifest_digest(manifest)
    if manifest["manifest_sha256"] != expected:
        raise BundleError(
            f"{MANIFEST_FILE} in {where} was modified after the bundle was written "
            f"(manifest_sha256 {str(manifest['manifest_sha256'])[:12]}… does not match the "
            f"content, {expected[:12]}…); restore the original bundle or retrain"
        )
    if not isinstance(manifest["files"], dict) or not all(
        isinstance(v, str) for v in manifest["files"].values()
    ):
        raise BundleError(f"{MANIFEST_FILE} in {where}: 'files' must map file names to sha256")
    if not isinstance(manifest["version"], str) or not VERSION_RE.match(manifest["version"]):
        raise BundleError(f"{MANIFEST_FILE} in {where}: invalid version {manifest['version']!r}")
    return manifest
