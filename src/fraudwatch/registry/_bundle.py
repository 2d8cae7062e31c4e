"""The model bundle: a folder holding a trained model and everything needed to trust it.

Layout (see docs/models.md)::

    manifest.json       what the bundle is, where it came from, sha256 of every other file
    model.txt           the fraud model in its native format (model.ubj / model.json for
    model_meta.json       XGBoost / logistic regression) and its wrapper metadata
    anomaly.npz         the Isolation Forest as plain arrays
    anomaly.json          and its metadata

:func:`load_bundle` verifies every hash, refuses missing or extra files, checks the manifest
layout version, and can check the feature set before anything is scored.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import polars as pl

from fraudwatch.errors import BundleError, ConfigError, FraudwatchError, NotFoundError
from fraudwatch.models import (
    AnomalyDetector,
    ExplainMethod,
    FeatureEncoder,
    Matrix,
    ModelBase,
    Vector,
    model_class,
)
from fraudwatch.models._isolation import ANOMALY_FILES
from fraudwatch.registry._manifest import (
    MANIFEST_FILE,
    SCHEMA_VERSION,
    VERSION_RE,
    canonical_json,
    check_manifest,
    library_versions,
    manifest_digest,
    sha256_hex,
)
from fraudwatch.registry._store import LocalStore, Store, open_store

if TYPE_CHECKING:
    from fraudwatch.thresholds import Thresholds

__all__ = ["Bundle", "FeatureSetLike", "load_bundle", "read_bundle"]

log = logging.getLogger(__name__)


class FeatureSetLike(Protocol):
    """What the bundle needs from a :class:`fraudwatch.features.FeatureSet`."""

    @property
    def names(self) -> Any:
        """Ordered feature names."""
        ...

    @property
    def hash(self) -> str:
        """Hash of the definition."""
        ...

    @property
    def categorical(self) -> Any:
        """Names of the categorical (string) features."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready definition."""
        ...


def _utc_iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ConfigError(f"created_at must be timezone-aware (UTC); got naive {ts.isoformat()}")
    return ts.astimezone(UTC).isoformat()


def feature_set_entry(
    feature_set: FeatureSetLike | Mapping[str, Any] | None, encoder: FeatureEncoder
) -> dict[str, Any]:
    """The manifest's ``feature_set`` field: hash, ordered names, categorical, definition."""
    if feature_set is None:
        body = {"names": list(encoder.names), "categorical": list(encoder.categorical)}
        return {**body, "hash": sha256_hex(canonical_json(body)), "definition": None}
    if isinstance(feature_set, Mapping):
        entry = dict(feature_set)
        for key in ("hash", "names", "categorical"):
            if key not in entry:
                raise ConfigError(f"feature_set mapping lacks {key!r}")
        entry.setdefault("definition", None)
        return entry
    return {
        "hash": str(feature_set.hash),
        "names": [str(n) for n in feature_set.names],
        "categorical": sorted(str(c) for c in feature_set.categorical),
        "definition": feature_set.to_dict(),
    }


class Bundle:
    """A trained fraud model, its anomaly detector, feature encoding and manifest.

    Build one with :meth:`create` (the training pipeline does), write it with :meth:`save`,
    read it back with :func:`load_bundle` or :meth:`fraudwatch.registry.Registry.get`.

    Parameters
    ----------
    model:
        A fitted fraud model.
    encoder:
        The fitted feature encoder (names in model order, vocabularies).
    detector:
        The fitted anomaly detector, or ``None``.
    info:
        The manifest fields other than ``files`` and ``manifest_sha256``.
    """

    def __init__(
        self,
        *,
        model: ModelBase,
        encoder: FeatureEncoder,
        detector: AnomalyDetector | None,
        info: Mapping[str, Any],
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.detector = detector
        self.info = dict(info)
        self._files: dict[str, str] | None = None
        if list(model.feature_names_in_) != list(encoder.names):
            raise BundleError(
                "the model's features differ from the encoder's: "
                f"{list(model.feature_names_in_)} vs {list(encoder.names)}",
                version=self.info.get("version"),
            )

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        model: ModelBase,
        encoder: FeatureEncoder,
        detector: AnomalyDetector | None,
        created_at: datetime,
        feature_set: FeatureSetLike | Mapping[str, Any] | None = None,
        name: str = "fraudwatch",
        version: str | None = None,
        profile: str = "default",
        thresholds: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
    ) -> Bundle:
        """Assemble a bundle from fitted parts and describe it.

        Parameters
        ----------
        model, encoder, detector:
            The fitted parts.
        created_at:
            When it was made (timezone-aware; the caller passes the clock).
        feature_set:
            The feature set the model was trained on (a ``FeatureSet`` or its manifest
            entry); ``None`` derives a hash from the encoder's names.
        name:
            A name for the model family.
        version:
            Version string (a folder name); default ``<UTC time>-<8 hex of the content>``.
        profile:
            Input profile of the training data.
        thresholds:
            Review/decline thresholds (``Thresholds.to_dict()``).
        metrics:
            Validation metrics.
        training:
            Training window, fingerprint, split, label delay and parameters.
        """
        fs_entry = feature_set_entry(feature_set, encoder)
        if list(fs_entry["names"]) != list(encoder.names):
            raise ConfigError(
                "the feature set's names differ from the model's features; "
                "train with the feature set you pass"
            )
        info: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "version": "",
            "created_at": _utc_iso(created_at),
            "model_type": model.name,
            "model_params": model.get_params(),
            "profile": profile,
            "feature_set": fs_entry,
            "encoding": encoder.to_dict(),
            "anomaly": None
            if detector is None
            else {
                "type": detector.name,
                "features": [detector.feature_names_in_[c] for c in detector.columns_],
                "params": detector.get_params(),
                "score": "in (0, 1]; higher is more anomalous; about 0.5 and below is ordinary",
            },
            "thresholds": dict(thresholds) if thresholds is not None else None,
            "metrics": dict(metrics or {}),
            "training": dict(training or {}),
            "libraries": library_versions(),
        }
        bundle = cls(model=model, encoder=encoder, detector=detector, info=info)
        if version is None:
            digest = sha256_hex(
                b"".join(sha256_hex(v).encode() for _, v in sorted(bundle._part_files().items()))
                + canonical_json({k: v for k, v in info.items() if k != "libraries"})
            )
            stamp = datetime.fromisoformat(info["created_at"]).strftime("%Y%m%dT%H%M%SZ")
            version = f"{stamp}-{digest[:8]}"
        if not VERSION_RE.match(version):
            raise ConfigError(
                f"invalid model version {version!r}: use letters, digits, '.', '_' and '-'"
            )
        bundle.info["version"] = version
        return bundle

    def with_thresholds(self, thresholds: Thresholds | Mapping[str, Any]) -> Bundle:
        """A copy of this bundle with other thresholds (e.g. tuned on later data).

        The copy gets a new version (``<this version>-t<8 hex of the thresholds>``), so a
        registered version is never changed in place.

        Parameters
        ----------
        thresholds:
            A :class:`fraudwatch.thresholds.Thresholds` or its ``to_dict()``.
        """
        data = thresholds if isinstance(thresholds, Mapping) else thresholds.to_dict()
        from fraudwatch.thresholds import Thresholds

        clean = Thresholds.from_dict(data).to_dict()  # validates
        base = re.sub(r"-t[0-9a-f]{8}$", "", self.version)  # re-tuning replaces the suffix
        version = f"{base[:118]}-t{sha256_hex(canonical_json(clean))[:8]}"
        info = {**self.info, "thresholds": clean, "version": version}
        return Bundle(model=self.model, encoder=self.encoder, detector=self.detector, info=info)

    # -- description ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The model family's name."""
        return str(self.info["name"])

    @property
    def version(self) -> str:
        """The version string."""
        return str(self.info["version"])

    @property
    def model_type(self) -> str:
        """``lightgbm``, ``xgboost`` or ``logreg``."""
        return str(self.info["model_type"])

    @property
    def created_at(self) -> datetime:
        """When the bundle was made (UTC)."""
        return datetime.fromisoformat(str(self.info["created_at"]))

    @property
    def profile(self) -> str:
        """Input profile of the training data."""
        return str(self.info["profile"])

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Feature names in model order."""
        return tuple(self.encoder.names)

    @property
    def feature_hash(self) -> str:
        """Hash of the feature set the model was trained on."""
        return str(self.info["feature_set"]["hash"])

    @property
    def feature_set_dict(self) -> dict[str, Any] | None:
        """The feature set definition (``FeatureSet.to_dict()``), if recorded."""
        definition = self.info["feature_set"].get("definition")
        return dict(definition) if isinstance(definition, Mapping) else None

    @property
    def feature_set(self) -> Any:
        """The :class:`fraudwatch.features.FeatureSet` the model was trained on.

        Raises
        ------
        BundleError
            The bundle records no feature set definition (trained on a bare matrix).
        """
        definition = self.feature_set_dict
        if definition is None:
            raise BundleError(
                "this bundle records no feature set definition (it was trained on a bare "
                "matrix); compute its features by name: " + ", ".join(self.feature_names),
                version=self.version,
            )
        import importlib

        features = importlib.import_module("fraudwatch.features")
        return features.FeatureSet.from_dict(definition)

    @property
    def thresholds(self) -> Thresholds | None:
        """The review/decline thresholds versioned with the model."""
        data = self.info.get("thresholds")
        if data is None:
            return None
        from fraudwatch.thresholds import Thresholds

        return Thresholds.from_dict(data)

    @property
    def metrics(self) -> dict[str, Any]:
        """Validation metrics recorded at training."""
        return dict(self.info.get("metrics") or {})

    @property
    def training(self) -> dict[str, Any]:
        """Training window, fingerprint, split and parameters."""
        return dict(self.info.get("training") or {})

    @property
    def manifest(self) -> dict[str, Any]:
        """The full manifest (with file hashes) as written by :meth:`save`."""
        return json.loads(self._manifest_bytes(self._part_files()))  # type: ignore[no-any-return]

    def check_feature_set(self, feature_set: FeatureSetLike | str) -> None:
        """Refuse a feature set other than the one the model was trained on.

        Parameters
        ----------
        feature_set:
            A ``FeatureSet`` or its hash.

        Raises
        ------
        BundleError
            The hashes differ; the message gives both.
        """
        given = feature_set if isinstance(feature_set, str) else str(feature_set.hash)
        if given != self.feature_hash:
            raise BundleError(
                f"the feature set (hash {given}) is not the one this model was trained with "
                f"(hash {self.feature_hash}); compute features with the bundle's feature set "
                "(bundle.feature_set) or retrain the model on the new features",
                version=self.version,
            )

    def __repr__(self) -> str:
        return (
            f"Bundle(name={self.name!r}, version={self.version!r}, model_type="
            f"{self.model_type!r}, features={len(self.feature_names)})"
        )

    # -- scoring ----------------------------------------------------------------------------
    def encode(self, features: pl.DataFrame) -> Matrix:
        """The model matrix of a feature frame (columns by name; extra columns ignored)."""
        return self.encoder.transform(features)

    def score_matrix(self, x: Matrix, *, num_threads: int | None = None) -> tuple[Vector, Vector]:
        """``(fraud probability, anomaly score)`` of an encoded matrix.

        The anomaly score is ``NaN`` when the bundle has no detector.
        """
        score = self.model.predict_proba(x, num_threads=num_threads)
        if self.detector is None:
            return score, np.full(score.shape, np.nan)
        return score, self.detector.score(x)

    def score(self, features: pl.DataFrame) -> tuple[Vector, Vector]:
        """Fraud probability and anomaly score of each row; higher is more suspicious.

        Parameters
        ----------
        features:
            A frame with (at least) the bundle's feature columns, e.g. the output of
            ``fraudwatch.features.compute_batch`` with the bundle's feature set.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            The fraud probability in [0, 1] and the anomaly score in (0, 1], one per row.

        Raises
        ------
        FeatureError
            A feature column is missing or has the wrong type.
        """
        return self.score_matrix(self.encode(features))

    def score_row(self, row: Mapping[str, Any]) -> tuple[float, float]:
        """Score one transaction's features given as ``{name: value}`` (one thread, no frame)."""
        score, anomaly = self.score_matrix(self.encoder.transform_row(row), num_threads=1)
        return float(score[0]), float(anomaly[0])

    def contributions(
        self, features: pl.DataFrame | Matrix, *, method: ExplainMethod = "path"
    ) -> Matrix:
        """Per-feature contributions to the log-odds, ``(n, n_features + 1)``, bias last.

        ``method`` is ``path`` (default, about the cost of a prediction) or ``shap``
        (TreeSHAP for tree models, ~100x a prediction); see ``docs/models.md``.
        """
        x = self.encode(features) if isinstance(features, pl.DataFrame) else features
        return self.model.contributions(x, method=method)

    # -- files ------------------------------------------------------------------------------
    def _part_files(self) -> dict[str, bytes]:
        files = dict(self.model.to_files())
        if self.detector is not None:
            det = self.detector.to_files()
            clash = set(det) & set(files)
            if clash:  # pragma: no cover - names are fixed by the package
                raise FraudwatchError(f"bundle file name clash: {sorted(clash)}")
            files.update(det)
        return files

    def _manifest_bytes(self, files: Mapping[str, bytes]) -> bytes:
        manifest = {**self.info, "files": {n: sha256_hex(b) for n, b in sorted(files.items())}}
        manifest["manifest_sha256"] = manifest_digest(manifest)
        return (json.dumps(manifest, sort_keys=True, indent=2, allow_nan=False) + "\n").encode()

    def to_files(self) -> dict[str, bytes]:
        """Every file of the bundle, ``manifest.json`` included."""
        files = self._part_files()
        return {**files, MANIFEST_FILE: self._manifest_bytes(files)}

    def save(self, directory: str | Path) -> Path:
        """Write the bundle into ``directory`` atomically (a temporary folder renamed).

        Raises
        ------
        ConfigError
            ``directory`` exists and is not empty.
        """
        out = Path(directory)
        if out.exists():
            if not out.is_dir() or any(out.iterdir()):
                raise ConfigError(
                    f"output folder {out} exists and is not empty; choose a new folder or "
                    "remove it first"
                )
            out.rmdir()
        store = LocalStore(out.parent if str(out.parent) else Path("."))
        try:
            store.publish_tree(out.name, self.to_files(), last=MANIFEST_FILE)
        except FraudwatchError as exc:
            raise ConfigError(f"could not write the bundle to {out}: {exc}") from None
        return out

    def copy_to(self, store: Store, prefix: str) -> None:
        """Publish the bundle under ``prefix`` of ``store`` (manifest last)."""
        store.publish_tree(prefix, self.to_files(), last=MANIFEST_FILE)


def _decode_manifest(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"{MANIFEST_FILE} in {where} is not valid JSON ({exc}); restore the bundle or retrain"
        ) from None
    return check_manifest(data, where=where)


def read_bundle(
    store: Store,
    prefix: str = "",
    *,
    where: str | None = None,
    feature_set: FeatureSetLike | str | None = None,
) -> Bundle:
    """Read and verify the bundle stored under ``prefix`` of ``store``.

    See :func:`load_bundle` for the checks.
    """
    where = where or (f"{store.uri}/{prefix}" if prefix else store.uri)
    present = store.list_files(prefix)
    if MANIFEST_FILE not in present:
        raise BundleError(
            f"no model bundle at {where}: {MANIFEST_FILE} is missing; point to a folder written "
            "by `fraudwatch train --out` or a registry version"
        )
    key = f"{prefix}/{MANIFEST_FILE}" if prefix else MANIFEST_FILE
    manifest = _decode_manifest(store.read(key), where)
    version = str(manifest["version"])
    listed: dict[str, str] = manifest["files"]
    missing = sorted(set(listed) - set(present))
    if missing:
        raise BundleError(
            f"file(s) {', '.join(missing)} listed in {MANIFEST_FILE} are missing from {where}; "
            "the bundle is incomplete — restore it or retrain",
            version=version,
        )
    extra = sorted(set(present) - set(listed) - {MANIFEST_FILE})
    if extra:
        raise BundleError(
            f"file(s) {', '.join(extra)} in {where} are not listed in {MANIFEST_FILE}; a bundle "
            "must not be modified — remove them or restore the original bundle",
            version=version,
        )
    files: dict[str, bytes] = {}
    for fname, digest in sorted(listed.items()):
        content = store.read(f"{prefix}/{fname}" if prefix else fname)
        if sha256_hex(content) != digest:
            raise BundleError(
                f"file {fname} in {where} does not match its sha256 in {MANIFEST_FILE} "
                "(tampered with or corrupted); restore the original bundle or retrain",
                version=version,
            )
        files[fname] = content
    return _assemble(manifest, files, where, feature_set)


def _assemble(
    manifest: dict[str, Any],
    files: dict[str, bytes],
    where: str,
    feature_set: FeatureSetLike | str | None,
) -> Bundle:
    version = str(manifest["version"])
    try:
        cls = model_class(str(manifest["model_type"]))
    except ConfigError as exc:
        raise BundleError(f"{where}: {exc}; upgrade fraudwatch", version=version) from None
    anomaly_files = {n: files[n] for n in ANOMALY_FILES if n in files}
    model_files = {n: b for n, b in files.items() if n not in anomaly_files}
    model = cls.from_files(model_files)
    detector = AnomalyDetector.from_files(anomaly_files) if manifest["anomaly"] else None
    encoder = FeatureEncoder.from_dict(manifest["encoding"])
    names = list(manifest["feature_set"]["names"])
    if list(encoder.names) != names or list(model.feature_names_in_) != names:
        raise BundleError(
            f"{where}: the model's features differ from the manifest's feature set; "
            "the bundle is inconsistent — retrain it",
            version=version,
        )
    info = {k: v for k, v in manifest.items() if k not in ("files", "manifest_sha256")}
    bundle = Bundle(model=model, encoder=encoder, detector=detector, info=info)
    _note_library_drift(manifest.get("libraries") or {}, version)
    if feature_set is not None:
        bundle.check_feature_set(feature_set)
    return bundle


def _note_library_drift(trained: Mapping[str, Any], version: str) -> None:
    now = library_versions()
    for lib in ("lightgbm", "xgboost", "scikit-learn", "numpy"):
        if trained.get(lib) and now.get(lib) and trained[lib] != now[lib]:
            log.info(
                "model %s was trained with %s %s; this process has %s",
                version,
                lib,
                trained[lib],
                now[lib],
            )


def load_bundle(
    source: str | Path,
    *,
    feature_set: FeatureSetLike | str | None = None,
    s3_client: Any | None = None,
) -> Bundle:
    """Load a bundle from a folder or an ``s3://bucket/prefix`` URI, verifying it.

    Checks, in order: ``manifest.json`` exists, parses, has the supported schema version and
    all fields, and was not edited (its self-hash); every listed file exists and matches its
    sha256; no unlisted file is present; the model's features match the manifest; and, when
    ``feature_set`` is given, its hash is the bundle's.

    Parameters
    ----------
    source:
        A bundle folder or URI.
    feature_set:
        The feature set (or its hash) the caller will compute features with.
    s3_client:
        A boto3 S3 client for ``s3://`` URIs (default: one from the environment).

    Raises
    ------
    BundleError
        Any check fails; the message names the file or field and the fix.
    """
    text = str(source)
    if not text.startswith("s3://") and not Path(text).is_dir():
        raise BundleError(
            f"no model bundle at {text}: the folder does not exist; pass the folder written by "
            "`fraudwatch train --out` (or use the registry: `fraudwatch models list`)"
        )
    store = open_store(text, s3_client=s3_client)
    try:
        return read_bundle(store, "", where=text, feature_set=feature_set)
    except NotFoundError as exc:
        raise BundleError(f"{text}: {exc}; the bundle changed while it was read") from None
