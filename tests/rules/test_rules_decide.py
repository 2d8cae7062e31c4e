"""Decisions: the documented precedence, and batch == real time on random data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_strategies import DECISION_SCHEMA, decision_rows, rulesets

from fraudwatch.errors import MissingColumnsError, RuleError
from fraudwatch.rules import (
    Decision,
    RuleSet,
    decide,
    decide_frame,
    decide_one,
    load_rules,
    model_decision,
)
from fraudwatch.thresholds import Thresholds


@dataclass(frozen=True)
class T:
    """A minimal thresholds object (anything with review and decline works)."""

    review: float = 0.5
    decline: float = 0.9


RULES = """
denylist:
  cards: [bad_card]
allowlist:
  cards: [vip_card]
rules:
  - {name: decline_big, condition: amount > 10000, action: decline, priority: 1}
  - {name: decline_huge, condition: amount > 50000, action: decline, priority: 5}
  - {name: allow_small, condition: amount < 5, action: allow}
  - {name: review_ecom, condition: channel == "ecom", action: review, priority: 2}
  - {name: review_night, condition: is_night == 1, action: review, priority: 2}
  - {name: switched_off, condition: amount > 0, action: decline, enabled: false}
"""


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    """The rule set above."""
    return load_rules(RULES)


def _one(rs: RuleSet, score: float | None, **tx: Any) -> Decision:
    return decide_one({"amount": 100.0, **tx}, score, T(), rs)


def test_denylist_beats_everything(ruleset: RuleSet) -> None:
    """Check that a denylisted card is declined even with a decline rule and a low score."""
    d = _one(ruleset, 0.0, card_id="bad_card", amount=20000.0)
    assert (d.decision, d.decided_by) == ("decline", "denylist.cards")
    assert d.rules_fired == ("denylist.cards", "decline_big")


def test_decline_rule_beats_allowlist(ruleset: RuleSet) -> None:
    """Check that a decline rule overrides an allowlisted card (a trusted card can be stolen)."""
    d = _one(ruleset, 0.0, card_id="vip_card", amount=20000.0)
    assert (d.decision, d.decided_by) == ("decline", "decline_big")


def test_allowlist_beats_model_decline(ruleset: RuleSet) -> None:
    """Check that an allowlisted card is allowed despite a declining score and review rules."""
    d = _one(ruleset, 0.99, card_id="vip_card", channel="ecom")
    assert (d.decision, d.decided_by) == ("allow", "allowlist.cards")
    assert d.rules_fired == ("allowlist.cards", "review_ecom")


def test_allow_rule_beats_model_decline(ruleset: RuleSet) -> None:
    """Check that an allow rule overrides the model's decline."""
    d = _one(ruleset, 0.99, amount=1.0)
    assert (d.decision, d.decided_by) == ("allow", "allow_small")


def test_model_decline_beats_review_rule(ruleset: RuleSet) -> None:
    """Check that a review rule never downgrades the model's decline."""
    d = _one(ruleset, 0.95, channel="ecom")
    assert (d.decision, d.decided_by) == ("decline", "model")
    assert d.rules_fired == ("review_ecom",)


def test_review_rule_raises_model_allow(ruleset: RuleSet) -> None:
    """Check that a review rule sends a transaction the model allows to review."""
    d = _one(ruleset, 0.1, channel="ecom")
    assert (d.decision, d.decided_by) == ("review", "review_ecom")


def test_model_decides_when_nothing_fires(ruleset: RuleSet) -> None:
    """Check that the thresholds decide when no rule fires."""
    assert _one(ruleset, 0.6) == Decision("review", (), "model")
    assert _one(ruleset, 0.2) == Decision("allow", (), "model")


def test_default_allow_without_model(ruleset: RuleSet) -> None:
    """Check that without a score and with no rule firing the decision is a default allow."""
    assert decide_one({"amount": 100.0}, None, None, ruleset) == Decision("allow", (), "default")


def test_higher_priority_decides_within_an_action(ruleset: RuleSet) -> None:
    """Check that of two decline rules the higher priority is named."""
    d = _one(ruleset, 0.0, amount=60000.0)
    assert d.decided_by == "decline_huge"
    assert d.rules_fired == ("decline_huge", "decline_big")


def test_equal_priority_keeps_file_order(ruleset: RuleSet) -> None:
    """Check that rules of equal action and priority are ordered as written."""
    d = _one(ruleset, 0.0, channel="ecom", is_night=1)
    assert d.rules_fired == ("review_ecom", "review_night")
    assert d.decided_by == "review_ecom"


def test_disabled_rule_takes_no_part(ruleset: RuleSet) -> None:
    """Check that a disabled rule neither fires nor decides."""
    assert "switched_off" not in _one(ruleset, 0.0).rules_fired
    assert "switched_off" not in [r.name for r in ruleset.active]
    assert "switched_off" in [r.name for r in ruleset.checks]


def test_decide_sorts_unordered_rules(ruleset: RuleSet) -> None:
    """Check that decide() gives the same answer whatever the order of fired rules."""
    tx = {"amount": 20000.0, "card_id": "vip_card", "channel": "ecom"}
    fired = ruleset.fired(tx)
    assert decide(0.3, T(), list(reversed(fired))) == decide(0.3, T(), fired)


@given(
    score=st.floats(0, 1),
    review=st.floats(0, 1),
    width=st.floats(0, 1),
)
def test_model_decision_matches_thresholds_package(
    score: float, review: float, width: float
) -> None:
    """Check that the model's decision agrees with fraudwatch.thresholds on any score."""
    t = Thresholds(review=review, decline=min(1.0, review + width))
    assert model_decision(score, t) == t.decision(score)


def test_scores_on_thresholds_go_up() -> None:
    """Check that a score equal to a threshold takes the stricter decision."""
    assert model_decision(0.5, T()) == "review"
    assert model_decision(0.9, T()) == "decline"


def test_nan_score_is_refused() -> None:
    """Check that a NaN score raises instead of silently allowing."""
    with pytest.raises(ValueError, match="NaN"):
        model_decision(float("nan"), T())


def _tx_frame(**cols: list[Any]) -> pl.DataFrame:
    base: dict[str, list[Any]] = {"amount": [1.0], "channel": ["pos"], "is_night": [0.0]}
    return pl.DataFrame({**base, **cols})


def _frame(data: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(data, schema=DECISION_SCHEMA)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    rs=rulesets(),
    data=decision_rows(),
    review=st.floats(0, 1),
    width=st.floats(0, 0.5),
    with_model=st.booleans(),
)
def test_batch_and_real_time_agree(
    rs: RuleSet, data: list[dict[str, Any]], review: float, width: float, with_model: bool
) -> None:
    """Check that decide_frame and decide_one give the same decision on every random row."""
    thresholds = T(review, review + width) if with_model else None
    out = decide_frame(_frame(data), thresholds, rs)
    batch = [
        Decision(d, tuple(f), by)
        for d, f, by in out.select("decision", "rules_fired", "decided_by").iter_rows()
    ]
    one = [decide_one(row, row["score"], thresholds, rs) for row in data]
    assert batch == one


def test_decide_frame_keeps_the_input_columns(ruleset: RuleSet) -> None:
    """Check that decide_frame returns the input columns plus the three decision columns."""
    df = _tx_frame(transaction_id=["t1"], amount=[3.0], score=[0.95])
    out = decide_frame(df, T(), ruleset)
    assert out.columns == [*df.columns, "decision", "rules_fired", "decided_by"]
    assert out.row(0)[-3:] == ("allow", ["allow_small"], "allow_small")


def test_decide_frame_needs_the_score_column(ruleset: RuleSet) -> None:
    """Check that thresholds without a score column is a clear error."""
    with pytest.raises(MissingColumnsError, match="score"):
        decide_frame(_tx_frame(), T(), ruleset)


def test_decide_frame_refuses_nan_scores(ruleset: RuleSet) -> None:
    """Check that a NaN score in a frame raises instead of allowing."""
    with pytest.raises(ValueError, match="NaN"):
        decide_frame(_tx_frame(score=[float("nan")]), T(), ruleset)


def test_decide_frame_names_the_rule_of_a_missing_feature(ruleset: RuleSet) -> None:
    """Check that a frame without a feature a rule reads fails naming that rule."""
    with pytest.raises(RuleError, match="is_night") as info:
        decide_frame(pl.DataFrame({"amount": [1.0], "score": [0.1]}), T(), ruleset)
    assert info.value.rule == "review_night"


def test_decide_frame_without_rules() -> None:
    """Check that an empty rule set leaves decisions to the model."""
    df = pl.DataFrame({"amount": [1.0, 2.0], "score": [0.95, None]})
    out = decide_frame(df, T(), load_rules("version: 1\n"))
    assert out["decision"].to_list() == ["decline", "allow"]
    assert out["decided_by"].to_list() == ["model", "default"]
    assert out["rules_fired"].to_list() == [[], []]


def test_decide_frame_rules_only_keeps_every_row() -> None:
    """Check that without thresholds a constant rule decides every row of the frame."""
    rs = load_rules("rules: [{name: always, condition: 'true', action: review}]")
    out = decide_frame(pl.DataFrame({"amount": [1.0, 2.0, 3.0]}), None, rs)
    assert out["decided_by"].to_list() == ["always"] * 3
    empty = decide_frame(pl.DataFrame({"amount": [1.0, 2.0]}), None, load_rules("version: 1"))
    assert empty["decided_by"].to_list() == ["default", "default"]


def test_many_rules_beyond_one_key_word() -> None:
    """Check that batch equals real time with more rules than fit in one 64-bit key."""
    actions = ["review", "decline", "allow"]
    rules = "\n".join(
        f"  - {{name: r{i}, condition: amount > {i * 10}, action: {actions[i % 3]}, "
        f"priority: {i % 5}}}"
        for i in range(140)
    )
    rs = load_rules(f"rules:\n{rules}\n")
    amounts = [5.0, 15.0, 625.0, 1234.0, 1395.0, 1405.0, 99999.0]
    df = pl.DataFrame({"amount": amounts, "score": [0.1, 0.95, 0.6, 0.2, 0.99, 0.0, 0.5]})
    out = decide_frame(df, T(), rs)
    batch = [Decision(d, tuple(f), b) for d, f, b in out.select(out.columns[-3:]).iter_rows()]
    assert batch == [decide_one(r, r["score"], T(), rs) for r in df.iter_rows(named=True)]
    assert len(batch[-1].rules_fired) == 140
