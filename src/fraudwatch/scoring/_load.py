"""Build a :class:`Scorer` from references: the edge where files, registry and Redis are opened."""

from __future__ import annotations

import logging
from pathlib import Path

from fraudwatch.errors import BundleError, ConfigError
from fraudwatch.features import MemoryStateStore, StateStore
from fraudwatch.models import ExplainMethod
from fraudwatch.registry import Bundle, Registry, load_bundle
from fraudwatch.rules import load_rules
from fraudwatch.scoring._scorer import ExplainMode, Scorer

__all__ = ["load_scorer", "open_state_store", "resolve_bundle"]

log = logging.getLogger(__name__)


def resolve_bundle(model_ref: str, registry_root: str) -> Bundle:
    """Load a bundle from a folder / ``s3://`` bundle URI, or from the registry by version or alias.

    A reference that is an existing folder (or an ``s3://`` URI with a manifest) is a bundle;
    anything else (``champion``, ``challenger``, a version) is looked up in the registry.
    """
    if model_ref.startswith("s3://") or Path(model_ref).is_dir():
        return load_bundle(model_ref)
    if "/" in model_ref or "\\" in model_ref:
        raise BundleError(
            f"no model bundle at {model_ref}: the folder does not exist; pass a bundle folder "
            "or a registry version or alias such as champion"
        )
    return Registry(registry_root).get(model_ref)


def open_state_store(state: str, *, prefix: str = "fw:") -> StateStore:
    """Open the online feature state: ``memory`` or a ``redis://`` / ``rediss://`` URL."""
    if state == "memory":
        return MemoryStateStore()
    if state.startswith(("redis://", "rediss://", "unix://")):
        from fraudwatch.features import RedisStateStore

        return RedisStateStore(state, prefix=prefix)
    raise ConfigError(f"unknown state store {state!r}; use 'memory' or a redis:// URL")


def load_scorer(
    model_ref: str,
    registry_root: str,
    state: str = "memory",
    rules_path: str | None = None,
    snapshot_path: str | None = None,
    *,
    explain: ExplainMode = "flagged",
    explainer: ExplainMethod = "path",
    state_prefix: str = "fw:",
) -> Scorer:
    """Load the bundle, the rules and the feature state, and return a ready scorer.

    Parameters
    ----------
    model_ref:
        Bundle folder or URI, or a registry version or alias (``champion``).
    registry_root:
        Registry folder or ``s3://`` prefix, used when ``model_ref`` is not a bundle path.
    state:
        ``memory`` or a Redis URL.
    rules_path:
        A rules YAML file, or ``None``.
    snapshot_path:
        A feature-state snapshot written from history, loaded so the service starts warm.
    explain:
        Which transactions get reasons.
    explainer:
        How their contributions are computed: ``path`` (default) or ``shap`` (TreeSHAP).
    state_prefix:
        Key prefix in Redis.
    """
    bundle = resolve_bundle(model_ref, registry_root)
    scorer_fs = bundle.feature_set
    ruleset = None
    if rules_path is not None:
        ruleset = load_rules(Path(rules_path), known_fields=list(scorer_fs.names) + _tx_fields())
    store = open_state_store(state, prefix=state_prefix)
    scorer = Scorer(bundle, store, ruleset, explain=explain, explainer=explainer)
    if snapshot_path is not None:
        from fraudwatch.features import StateSnapshot

        scorer.load_snapshot(StateSnapshot.load(snapshot_path))
        log.info("feature state loaded from snapshot", extra={"snapshot": snapshot_path})
    return scorer


def _tx_fields() -> list[str]:
    from fraudwatch.schema import COLUMNS

    return [c.name for c in COLUMNS if not c.label]
