"""Decisions: one implementation, a per-transaction form and a vectorised form.

The decision is settled by the first match in this precedence (docs/rules.md explains why):

==== ============================== ============ ====================
rank source                         decision     ``decided_by``
==== ============================== ============ ====================
0    deny list hit                  decline      ``denylist.<kind>``
1    decline rule                   decline      the rule's name
2    allow list hit                 allow        ``allowlist.<kind>``
3    allow rule                     allow        the rule's name
4    model score >= decline         decline      ``model``
5    review rule                    review       the rule's name
6    model score >= review / below  review/allow ``model``
-    no model score, nothing fired  allow        ``default``
==== ============================== ============ ====================

Within one rank, a higher ``priority`` wins, then the rule written first. ``rules_fired``
lists every enabled check that fired, in that same order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import polars as pl

from fraudwatch.errors import ConfigError, MissingColumnsError
from fraudwatch.rules._ruleset import MODEL_DECLINE_RANK, Rule, RuleSet
from fraudwatch.rules._types import Action

__all__ = [
    "Decision",
    "ThresholdsLike",
    "decide",
    "decide_frame",
    "decide_one",
    "model_decision",
]


class ThresholdsLike(Protocol):
    """Anything with ``review`` and ``decline`` score thresholds (e.g.
    :class:`fraudwatch.thresholds.Thresholds`). A score ``>= decline`` declines, a score
    ``>= review`` is sent to review."""

    @property
    def review(self) -> float: ...

    @property
    def decline(self) -> float: ...


class Decision(NamedTuple):
    """The outcome for one transaction (an immutable named tuple: cheap to build).

    Attributes
    ----------
    decision:
        ``allow``, ``review`` or ``decline``.
    rules_fired:
        Names of every enabled rule and list check that fired, in precedence order.
    decided_by:
        What settled the decision: a rule's name, ``denylist.<kind>``/``allowlist.<kind>``,
        ``model``, or ``default`` (no model score and nothing fired).
    """

    decision: Action
    rules_fired: tuple[str, ...]
    decided_by: str


def model_decision(score: float | None, thresholds: ThresholdsLike | None) -> Action | None:
    """The model's own decision, or ``None`` without a score or thresholds.

    Raises
    ------
    ValueError
        ``score`` is NaN (the model failed; a decision must not silently allow it).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> model_decision(0.7, SimpleNamespace(review=0.5, decline=0.9))
    'review'
    """
    if score is None or thresholds is None:
        return None
    if score >= thresholds.decline:
        return "decline"
    if score >= thresholds.review:
        return "review"
    if math.isnan(score):
        raise ValueError("the model score is NaN; check the model and its input features")
    return "allow"


def _combine(fired: Sequence[Rule], model: Action | None) -> Decision:
    """Settle a decision from the fired checks (in precedence order) and the model's view."""
    names = tuple([r.name for r in fired]) if fired else ()
    if fired:
        top = fired[0]
        if top.rank < MODEL_DECLINE_RANK:
            return Decision(top.action, names, top.name)
    if model == "decline":
        return Decision("decline", names, "model")
    if fired:
        return Decision(fired[0].action, names, fired[0].name)
    if model is None:
        return Decision("allow", names, "default")
    return Decision(model, names, "model")


def _decide_ordered(
    score: float | None, thresholds: ThresholdsLike | None, fired: Sequence[Rule]
) -> Decision:
    return _combine(fired, model_decision(score, thresholds))


def decide(
    score: float | None, thresholds: ThresholdsLike | None, fired_rules: Iterable[Rule]
) -> Decision:
    """Combine the model's score and the rules that fired into a decision.

    Parameters
    ----------
    score:
        The model's fraud score (higher is more suspicious), or ``None`` without a model.
    thresholds:
        Object with ``review`` and ``decline`` thresholds, or ``None`` without a model.
    fired_rules:
        The enabled rules and list checks that fired (any order), e.g.
        ``ruleset.fired(tx)``.

    Returns
    -------
    Decision

    Raises
    ------
    ValueError
        The score is NaN.
    """
    ordered = sorted(fired_rules, key=lambda r: (r.rank, -r.priority))
    return _decide_ordered(score, thresholds, ordered)


def decide_one(
    tx: Mapping[str, Any],
    score: float | None,
    thresholds: ThresholdsLike | None,
    ruleset: RuleSet,
) -> Decision:
    """Decide one transaction: the real-time path.

    Parameters
    ----------
    tx:
        Transaction fields and features (a missing key counts as null).
    score:
        The model's score, or ``None`` without a model.
    thresholds:
        Review and decline thresholds, or ``None`` without a model.
    ruleset:
        The rules and lists.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from fraudwatch.rules import load_rules
    >>> rs = load_rules("rules: [{name: big, condition: amount > 25000, action: review}]")
    >>> decide_one({"amount": 30000.0}, 0.1, SimpleNamespace(review=0.5, decline=0.9), rs)
    Decision(decision='review', rules_fired=('big',), decided_by='big')
    """
    return _decide_ordered(score, thresholds, ruleset.fired(tx))


def decide_frame(
    frame: pl.DataFrame,
    thresholds: ThresholdsLike | None,
    ruleset: RuleSet,
    *,
    score_column: str = "score",
) -> pl.DataFrame:
    """Decide every row of a frame: the batch path, equal to :func:`decide_one` per row.

    Parameters
    ----------
    frame:
        Transactions with their features and (unless ``thresholds`` is ``None``) a score
        column; a null score means "no model opinion" for that row.
    thresholds:
        Review and decline thresholds, or ``None`` to decide by the rules alone.
    ruleset:
        The rules and lists.
    score_column:
        Name of the score column.

    Returns
    -------
    pl.DataFrame
        ``frame`` with three more columns: ``decision`` (String), ``rules_fired``
        (List(String)) and ``decided_by`` (String).

    Raises
    ------
    MissingColumnsError
        ``thresholds`` is given but the score column is absent.
    RuleError
        A field a rule reads is missing or has the wrong type.
    ValueError
        A score is NaN.
    """
    checks = ruleset.active
    lazy = ruleset.prepare_frame(frame, checks)
    model = _model_code(lazy.collect_schema(), frame, thresholds, score_column)
    # Pack each row's (model decision, hits) into a few UInt64 keys: 2 bits of model code,
    # then one bit per check. Few distinct keys exist; each is decided once in Python with
    # the function decide_one uses, and rows are mapped to their key's decision.
    conditions = [r.condition.to_polars() for r in checks]
    groups = [conditions[i : i + _BITS] for i in range(0, len(conditions), _BITS)] or [[]]
    keys = [f"__fw_key_{j}" for j in range(len(groups))]
    packed = []
    for j, group in enumerate(groups):
        parts = [model] if j == 0 else []
        shift = 2 if j == 0 else 0
        parts += [c.cast(pl.UInt64) * (1 << (shift + k)) for k, c in enumerate(group)]
        packed.append(pl.sum_horizontal(parts).cast(pl.UInt64).alias(keys[j]))
    evaluated = lazy.with_columns(packed).select(keys).collect()
    patterns = evaluated.unique(maintain_order=True)
    decided = [_decide_key(row, checks) for row in patterns.iter_rows()]
    lookup = patterns.with_columns(
        pl.Series("decision", [d.decision for d in decided], dtype=pl.String),
        pl.Series("rules_fired", [list(d.rules_fired) for d in decided], dtype=pl.List(pl.String)),
        pl.Series("decided_by", [d.decided_by for d in decided], dtype=pl.String),
    )
    added = ["decision", "rules_fired", "decided_by"]
    outcome = evaluated.join(lookup, on=keys, how="left", maintain_order="left").select(added)
    kept = frame.drop([c for c in added if c in frame.columns])
    return pl.concat([kept, outcome], how="horizontal")


_BITS = 62
_MODEL_CODES: tuple[Action | None, ...] = (None, "allow", "review", "decline")


def _decide_key(key: tuple[int, ...], checks: Sequence[Rule]) -> Decision:
    """Decode one packed key (see decide_frame) and decide it."""
    model = _MODEL_CODES[key[0] & 3]
    fired = []
    for i, rule in enumerate(checks):
        j, k = divmod(i, _BITS)
        if (key[j] >> (k + (2 if j == 0 else 0))) & 1:
            fired.append(rule)
    return _combine(fired, model)


def _model_code(
    schema: pl.Schema,
    frame: pl.DataFrame,
    thresholds: ThresholdsLike | None,
    score_column: str,
) -> pl.Expr:
    """The model's decision per row as a code: 0 none (no score), 1 allow, 2 review, 3 decline."""
    if thresholds is None:
        return pl.lit(0, dtype=pl.UInt64)
    if score_column not in schema:
        raise MissingColumnsError(
            [score_column],
            schema.names(),
            hint="score the transactions first, or pass thresholds=None to use rules only",
        )
    if not schema[score_column].is_numeric():
        raise ConfigError(f"score column '{score_column}' is {schema[score_column]}, not numeric")
    score = pl.col(score_column).cast(pl.Float64)
    nan_rows = frame.select(score.is_nan().sum()).item()
    if nan_rows:
        raise ValueError(f"{nan_rows} score(s) are NaN; check the model and its input features")
    code = (
        pl.when(score >= thresholds.decline)
        .then(3)
        .when(score >= thresholds.review)
        .then(2)
        .when(score.is_not_null())
        .then(1)
        .otherwise(0)
    )
    return code.cast(pl.UInt64)
