"""The model registry: versions of bundles and the aliases that point at them.

Layout (a local folder or ``s3://bucket/prefix``)::

    versions/<version>/manifest.json, model.txt, ...   immutable bundles
    aliases/champion.json                               {"version": ..., "stack": [...], ...}
    aliases/challenger.json

``champion`` is what production scores with; ``challenger`` is a candidate scored beside it.
Each alias keeps a stack of the versions it pointed at, so :meth:`Registry.rollback` returns
to the previous one, and a log of every change. Bundles are published atomically and never
modified; an alias changes with one atomic replace, so a reader resolving ``champion`` always
gets a complete, verified bundle.
"""

from __future__ import annotations

import builtins
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraudwatch.errors import BundleError, ConfigError, FraudwatchError, NotFoundError
from fraudwatch.registry._bundle import Bundle, FeatureSetLike, read_bundle
from fraudwatch.registry._manifest import MANIFEST_FILE, VERSION_RE
from fraudwatch.registry._store import Store, open_store

__all__ = ["ALIASES", "AliasChange", "ModelVersion", "Registry"]

log = logging.getLogger(__name__)

ALIASES: tuple[str, ...] = ("champion", "challenger")
"""The aliases a version can be promoted to."""

_VERSIONS = "versions"
_ALIASES = "aliases"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, as listed (read from its manifest, not verified)."""

    version: str
    name: str
    model_type: str
    created_at: str
    profile: str
    metrics: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AliasChange:
    """What a promotion or rollback did."""

    alias: str
    previous: str | None
    current: str


def _check_alias(alias: str) -> str:
    if alias not in ALIASES:
        raise ConfigError(f"unknown alias {alias!r}; choose one of: {', '.join(ALIASES)}")
    return alias


class Registry:
    """Model versions and aliases in a local folder or under ``s3://bucket/prefix``.

    Parameters
    ----------
    root:
        A folder (created on first registration) or an S3 URI.
    store:
        A storage backend to use instead of the one ``root`` names (tests).
    s3_client:
        A boto3 client for S3 roots (default: from the environment).

    Examples
    --------
    >>> import tempfile
    >>> reg = Registry(tempfile.mkdtemp())
    >>> reg.list()
    []
    """

    def __init__(
        self, root: str | Path, *, store: Store | None = None, s3_client: Any | None = None
    ) -> None:
        self.root = str(root)
        self.store: Store = store if store is not None else open_store(root, s3_client=s3_client)

    def __repr__(self) -> str:
        return f"Registry({self.root!r})"

    # -- versions ---------------------------------------------------------------------------
    def register(self, bundle: Bundle) -> str:
        """Publish ``bundle`` as a new version and return its version string.

        Registering the same bundle again (same version, same content) is a no-op.

        Raises
        ------
        BundleError
            Another bundle with the same version is already registered.
        """
        version = bundle.version
        prefix = f"{_VERSIONS}/{version}"
        files = bundle.to_files()
        if self.store.exists(f"{prefix}/{MANIFEST_FILE}"):
            existing = self.store.read(f"{prefix}/{MANIFEST_FILE}")
            if existing == files[MANIFEST_FILE]:
                log.info("model %s is already registered in %s", version, self.root)
                return version
            raise BundleError(
                f"another bundle is already registered as {version} in {self.root}; "
                "give the new one another version",
                version=version,
            )
        try:
            self.store.publish_tree(prefix, files, last=MANIFEST_FILE)
        except FraudwatchError as exc:
            raise BundleError(
                f"could not register in {self.root}: {exc}", version=version
            ) from None
        log.info("registered model %s in %s", version, self.root)
        return version

    def versions(self) -> builtins.list[str]:
        """Registered versions, oldest first (by creation time, then version)."""
        return [v.version for v in self.list()]

    def _manifest(self, version: str) -> dict[str, Any]:
        raw = self.store.read(f"{_VERSIONS}/{version}/{MANIFEST_FILE}")
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise BundleError(f"{MANIFEST_FILE} is not a JSON object", version=version)
        return data

    def list(self) -> list[ModelVersion]:
        """Every complete version (a manifest is present), oldest first, with its aliases."""
        pointed: dict[str, list[str]] = {}
        for alias, version in self.aliases().items():
            pointed.setdefault(version, []).append(alias)
        out = []
        for version in self.store.list_dirs(_VERSIONS):
            if not VERSION_RE.match(version):
                continue
            try:
                m = self._manifest(version)
            except (NotFoundError, ValueError, BundleError):
                continue  # not (yet) a complete bundle
            out.append(
                ModelVersion(
                    version=version,
                    name=str(m.get("name", "")),
                    model_type=str(m.get("model_type", "")),
                    created_at=str(m.get("created_at", "")),
                    profile=str(m.get("profile", "")),
                    metrics=dict(m.get("metrics") or {}),
                    aliases=tuple(sorted(pointed.get(version, []))),
                )
            )
        return sorted(out, key=lambda v: (v.created_at, v.version))

    def resolve(self, ref: str) -> str:
        """The version an alias points at, or ``ref`` itself if it is a registered version.

        Raises
        ------
        NotFoundError
            The alias is not set, or no such version exists.
        """
        if ref in ALIASES:
            doc = self._alias_doc(ref)
            if doc is None:
                raise NotFoundError(
                    f"alias {ref!r} is not set in {self.root}; promote a version first: "
                    f"fraudwatch models promote VERSION --alias {ref}"
                )
            return str(doc["version"])
        if not VERSION_RE.match(ref) or not self.store.exists(f"{_VERSIONS}/{ref}/{MANIFEST_FILE}"):
            known = self.versions()
            hint = f"known versions: {', '.join(known[-5:])}" if known else "the registry is empty"
            raise NotFoundError(
                f"no model version or alias {ref!r} in {self.root}; {hint} "
                "(see `fraudwatch models list`)"
            )
        return ref

    def get(self, ref: str, *, feature_set: FeatureSetLike | str | None = None) -> Bundle:
        """Load and verify the bundle of a version or alias (see :func:`load_bundle`)."""
        version = self.resolve(ref)
        prefix = f"{_VERSIONS}/{version}"
        return read_bundle(
            self.store, prefix, where=f"{self.root}/{prefix}", feature_set=feature_set
        )

    def manifest(self, ref: str) -> dict[str, Any]:
        """The manifest of a version or alias, verified with its bundle."""
        return self.get(ref).manifest

    # -- aliases ----------------------------------------------------------------------------
    def _alias_doc(self, alias: str) -> dict[str, Any] | None:
        try:
            raw = self.store.read(f"{_ALIASES}/{alias}.json")
        except NotFoundError:
            return None
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or "version" not in data:
            raise FraudwatchError(f"alias file {alias}.json in {self.root} is malformed")
        return data

    def aliases(self) -> dict[str, str]:
        """``{alias: version}`` for every alias that is set."""
        out = {}
        for alias in ALIASES:
            doc = self._alias_doc(alias)
            if doc is not None:
                out[alias] = str(doc["version"])
        return out

    def alias_history(self, alias: str = "champion") -> builtins.list[dict[str, Any]]:
        """Every promotion and rollback of ``alias``, oldest first."""
        doc = self._alias_doc(_check_alias(alias))
        return [] if doc is None else list(doc.get("log", []))

    def _write_alias(self, alias: str, doc: dict[str, Any]) -> None:
        data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
        self.store.write_atomic(f"{_ALIASES}/{alias}.json", data)

    def promote(
        self, ref: str, alias: str = "champion", *, at: datetime | None = None
    ) -> AliasChange:
        """Point ``alias`` at a version (or at what another alias points at).

        The bundle is verified first: a tampered bundle is never promoted.

        Parameters
        ----------
        ref:
            A version, or an alias (``promote("challenger", "champion")``).
        alias:
            ``champion`` or ``challenger``.
        at:
            When, for the alias log (the caller passes the clock).

        Raises
        ------
        ConfigError
            Unknown alias.
        NotFoundError
            No such version.
        BundleError
            The bundle fails verification.
        """
        _check_alias(alias)
        version = self.resolve(ref)
        self.get(version)  # verify before anyone can resolve to it
        with self.store.lock(f"{_ALIASES}/{alias}.json"):
            doc = self._alias_doc(alias) or {"alias": alias, "stack": [], "log": []}
            previous = doc.get("version")
            stack = list(doc.get("stack", []))
            if previous != version:
                stack.append(version)
            doc.update(version=version, stack=stack)
            doc["log"] = [*doc.get("log", []), _event("promote", version, previous, at)]
            self._write_alias(alias, doc)
        log.info("%s: %s -> %s", alias, previous, version)
        return AliasChange(alias=alias, previous=previous, current=version)

    def rollback(self, alias: str = "champion", *, at: datetime | None = None) -> AliasChange:
        """Point ``alias`` back at the version it pointed at before the current one.

        Raises
        ------
        NotFoundError
            The alias is not set or has no earlier version.
        """
        _check_alias(alias)
        with self.store.lock(f"{_ALIASES}/{alias}.json"):
            doc = self._alias_doc(alias)
            if doc is None:
                raise NotFoundError(
                    f"alias {alias!r} is not set in {self.root}; nothing to roll back"
                )
            stack = list(doc.get("stack", []))
            current = str(doc["version"])
            if len(stack) < 2:
                raise NotFoundError(
                    f"alias {alias!r} has pointed only at {current}; there is no earlier version "
                    f"to roll back to (promote one instead: fraudwatch models promote VERSION)"
                )
            stack.pop()
            target = str(stack[-1])
            self.get(target)  # the earlier bundle must still verify
            doc.update(version=target, stack=stack)
            doc["log"] = [*doc.get("log", []), _event("rollback", target, current, at)]
            self._write_alias(alias, doc)
        log.info("%s rolled back: %s -> %s", alias, current, target)
        return AliasChange(alias=alias, previous=current, current=target)


def _event(action: str, version: str, previous: Any, at: datetime | None) -> dict[str, Any]:
    when = None
    if at is not None:
        if at.tzinfo is None:
            raise ConfigError("the time of an alias change must be timezone-aware (UTC)")
        when = at.astimezone(UTC).isoformat()
    return {"action": action, "version": version, "previous": previous, "at": when}
