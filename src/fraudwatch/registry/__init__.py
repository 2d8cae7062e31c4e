"""Model bundles (a verified folder per trained model) and the registry of their versions.

Example::

    from fraudwatch.registry import load_bundle
    bundle = load_bundle("models/versions/20260101T000000Z-1a2b3c4d")
    score, anomaly = bundle.score(features)

See docs/models.md for the bundle layout, the manifest fields and the aliases.
"""

from __future__ import annotations

from fraudwatch.registry._bundle import Bundle, FeatureSetLike, load_bundle, read_bundle
from fraudwatch.registry._manifest import MANIFEST_FILE, SCHEMA_VERSION
from fraudwatch.registry._registry import ALIASES, AliasChange, ModelVersion, Registry
from fraudwatch.registry._store import LocalStore, MemoryStore, S3Store, Store, open_store

__all__ = [
    "ALIASES",
    "MANIFEST_FILE",
    "SCHEMA_VERSION",
    "AliasChange",
    "Bundle",
    "FeatureSetLike",
    "LocalStore",
    "MemoryStore",
    "ModelVersion",
    "Registry",
    "S3Store",
    "Store",
    "load_bundle",
    "open_store",
    "read_bundle",
]
