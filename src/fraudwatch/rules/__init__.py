"""Rules and decisions: a safe condition language, allow/deny lists, the decision shared by
batch and real-time scoring, and rule backtests (see docs/rules.md).

Typical use::

    ruleset = load_rules("rules.yaml", known_fields=feature_set.names)
    decision = decide_one(tx_and_features, score, thresholds, ruleset)      # real time
    decided = decide_frame(frame_with_scores, thresholds, ruleset)         # batch
    report = backtest_rules(ruleset, labelled_frame, thresholds)          # before going live
"""

from __future__ import annotations

from fraudwatch.rules._ast import Node, to_source
from fraudwatch.rules._backtest import BACKTEST_SCHEMA, TOTAL_ROW, backtest_rules
from fraudwatch.rules._check import FUNCTIONS
from fraudwatch.rules._condition import Condition, parse_condition
from fraudwatch.rules._decide import (
    Decision,
    ThresholdsLike,
    decide,
    decide_frame,
    decide_one,
    model_decision,
)
from fraudwatch.rules._loader import load_rules
from fraudwatch.rules._parser import parse
from fraudwatch.rules._ruleset import Rule, RuleSet, precedence_rank
from fraudwatch.rules._types import (
    ACTIONS,
    LIST_FIELDS,
    LIST_KINDS,
    Action,
    FieldType,
    NamedList,
    resolve_field_types,
)

__all__ = [
    "ACTIONS",
    "BACKTEST_SCHEMA",
    "FUNCTIONS",
    "LIST_FIELDS",
    "LIST_KINDS",
    "TOTAL_ROW",
    "Action",
    "Condition",
    "Decision",
    "FieldType",
    "NamedList",
    "Node",
    "Rule",
    "RuleSet",
    "ThresholdsLike",
    "backtest_rules",
    "decide",
    "decide_frame",
    "decide_one",
    "load_rules",
    "model_decision",
    "parse",
    "parse_condition",
    "precedence_rank",
    "resolve_field_types",
    "to_source",
]
