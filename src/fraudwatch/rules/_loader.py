"""Load a rule set from YAML (format in docs/rules.md, example in examples/rules.yaml).

Every problem is a :class:`~fraudwatch.errors.RuleError` that names the rule (or list),
the file and line, and for conditions the 0-based position with a caret excerpt.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Final, NoReturn

import yaml

from fraudwatch.errors import InputFileError, RuleError
from fraudwatch.rules._condition import parse_condition
from fraudwatch.rules._diagnostics import suggest
from fraudwatch.rules._lexer import KEYWORDS
from fraudwatch.rules._ruleset import RESERVED_NAMES, RULE_NAME_PATTERN, Rule, RuleSet
from fraudwatch.rules._types import (
    ACTIONS,
    LIST_KINDS,
    Action,
    FieldType,
    NamedList,
    resolve_field_types,
)

__all__ = ["SUPPORTED_VERSIONS", "load_rules"]

log = logging.getLogger(__name__)

SUPPORTED_VERSIONS: Final = (1,)

_TOP_KEYS: Final = ("version", "denylist", "allowlist", "lists", "rules")
_RULE_KEYS: Final = ("name", "condition", "action", "priority", "description", "enabled")
_LIST_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SYNONYMS: Final[Mapping[str, Action]] = {
    "block": "decline",
    "deny": "decline",
    "reject": "decline",
    "blacklist": "decline",
    "flag": "review",
    "alert": "review",
    "hold": "review",
    "challenge": "review",
    "approve": "allow",
    "accept": "allow",
    "pass": "allow",
    "whitelist": "allow",
}


def relocate(exc: RuleError, location: str) -> RuleError:
    """A copy of ``exc`` whose first line ends with ``(location)``."""
    prefix = str(RuleError("", rule=exc.rule, position=exc.position))
    text = str(exc)
    body = text[len(prefix) :] if text.startswith(prefix) else text
    first, sep, rest = body.partition("\n")
    return RuleError(f"{first} ({location}){sep}{rest}", rule=exc.rule, position=exc.position)


class _Loader:
    def __init__(self, label: str, base_dir: Path) -> None:
        self.label = label
        self.base_dir = base_dir

    def at(self, line: int | None) -> str:
        return f"{self.label}:{line}" if line else self.label

    def fail(self, message: str, line: int | None, rule: str | None = None) -> NoReturn:
        raise RuleError(f"{message} ({self.at(line)})", rule=rule)

    # -- YAML ------------------------------------------------------------------------------
    def compose(self, text: str) -> tuple[Any, yaml.Node | None]:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            self.check_duplicates(node)
            return loader.construct_document(node), node
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or "syntax error"
            self.fail(f"the rules file is not valid YAML: {problem}", line)
        except yaml.YAMLError as exc:
            self.fail(f"the rules file is not valid YAML: {exc}", None)
        finally:
            loader.dispose()

    def check_duplicates(self, root: yaml.Node) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                name = _scalar(node, "name")
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode):
                        if key.value in seen:
                            self.fail(
                                f"key '{key.value}' is given twice in the same mapping; keep one",
                                key.start_mark.line + 1,
                                name,
                            )
                        seen.add(key.value)
                    stack.append(value)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)

    # -- lists -----------------------------------------------------------------------------
    def read_list_file(self, qualified: str, raw: str, line: int | None) -> list[str]:
        path = Path(raw)
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.fail(
                f"list '{qualified}': file {raw!r} not found (looked at {path}); paths are "
                "relative to the rules file",
                line,
            )
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(f"list '{qualified}': cannot read {path}: {exc}", line)
        values = []
        for entry in text.splitlines():
            entry = entry.strip()
            if entry and not entry.startswith("#"):
                values.append(entry)
        return values

    def named_list(self, qualified: str, raw: Any, line: int | None, *, ids: bool) -> NamedList:
        source = "inline"
        if raw is None:
            items: list[Any] = []
        elif isinstance(raw, str):
            items = self.read_list_file(qualified, raw, line)
            source = raw
        elif isinstance(raw, list):
            items = raw
        else:
            self.fail(
                f"list '{qualified}' must be a list of values or the path of a file with one "
                f"value per line, not {type(raw).__name__}",
                line,
            )
        if ids or all(isinstance(v, str) for v in items):
            bad = next((v for v in items if not isinstance(v, str)), None)
            if bad is not None:
                self.fail(
                    f"list '{qualified}' holds {bad!r}, which is not a string; quote "
                    f'identifiers ("{bad}") so YAML keeps them as written',
                    line,
                )
            if qualified.endswith(".ips"):
                self.check_ips(qualified, items, line)
            kind: FieldType | None = "string" if items else None
            if ids:
                kind = "string"
            return NamedList(qualified, frozenset(items), kind, source)
        if all(isinstance(v, bool) for v in items):
            return NamedList(qualified, frozenset(items), "bool", source)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
            return NamedList(qualified, frozenset(float(v) for v in items), "number", source)
        self.fail(f"list '{qualified}' mixes types; use all strings (quoted) or all numbers", line)

    def check_ips(self, qualified: str, items: list[str], line: int | None) -> None:
        for value in items:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                hint = (
                    "; ranges (CIDR) are not supported, list the addresses" if "/" in value else ""
                )
                self.fail(f"list '{qualified}': {value!r} is not an IP address{hint}", line)

    def lists(self, data: Mapping[str, Any], lines: Mapping[str, int]) -> dict[str, NamedList]:
        out: dict[str, NamedList] = {}
        for group in ("denylist", "allowlist"):
            section = data.get(group)
            if section is None:
                continue
            if not isinstance(section, Mapping):
                self.fail(
                    f"'{group}' must map list kinds ({', '.join(LIST_KINDS)}) to values",
                    lines.get(group),
                )
            for kind, raw in section.items():
                if kind not in LIST_KINDS:
                    self.fail(
                        f"unknown list '{group}.{kind}'{suggest(str(kind), LIST_KINDS)}; "
                        f"{group} has {', '.join(LIST_KINDS)}",
                        lines.get(group),
                    )
                name = f"{group}.{kind}"
                out[name] = self.named_list(name, raw, lines.get(group), ids=True)
        custom = data.get("lists")
        if custom is not None:
            if not isinstance(custom, Mapping):
                self.fail("'lists' must map list names to values", lines.get("lists"))
            for key, raw in custom.items():
                if not isinstance(key, str) or not _LIST_NAME.match(key) or key in KEYWORDS:
                    self.fail(
                        f"list name {key!r} is not valid: use letters, digits and _ "
                        "(it is written lists.<name> in conditions)",
                        lines.get("lists"),
                    )
                name = f"lists.{key}"
                out[name] = self.named_list(name, raw, lines.get("lists"), ids=False)
        return out

    # -- rules -----------------------------------------------------------------------------
    def rule(
        self,
        index: int,
        raw: Any,
        node: yaml.Node | None,
        lists: Mapping[str, NamedList],
        fields: Mapping[str, FieldType] | None,
    ) -> Rule:
        line = node.start_mark.line + 1 if node is not None else None
        if not isinstance(raw, Mapping):
            self.fail(
                f"rule #{index + 1} must be a mapping with name, condition and action",
                line,
            )
        name = raw.get("name")
        if name is None:
            self.fail(f"rule #{index + 1} has no 'name'; give every rule a unique name", line)
        if isinstance(name, bool | int | float):
            self.fail(
                f"rule #{index + 1} has the name {name!r}, which YAML read as a "
                f"{type(name).__name__} (it reads off/no/yes/on as true/false); quote the name",
                line,
            )
        if not isinstance(name, str) or not RULE_NAME_PATTERN.match(name):
            self.fail(
                f"rule #{index + 1} has an invalid name {name!r}: use a letter, then letters, "
                "digits, '_' or '-' (at most 64 characters)",
                line,
            )
        if name in RESERVED_NAMES:
            self.fail(f"'{name}' is reserved for decisions without a rule; rename it", line, name)
        for key in raw:
            if key not in _RULE_KEYS:
                self.fail(
                    f"unknown key '{key}'{suggest(str(key), _RULE_KEYS)}; "
                    f"a rule has {', '.join(_RULE_KEYS)}",
                    line,
                    name,
                )
        for key in ("condition", "action"):
            if key not in raw or raw[key] is None:
                self.fail(f"missing '{key}'; a rule needs name, condition and action", line, name)
        action = self.action(raw["action"], line, name)
        priority = raw.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.fail(f"priority must be a whole number, not {priority!r}", line, name)
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            self.fail(f"enabled must be true or false, not {enabled!r}", line, name)
        description = raw.get("description") or ""
        if not isinstance(description, str):
            self.fail("description must be text", line, name)
        text = raw["condition"]
        condition_line = _value_line(node, "condition") or line
        if not isinstance(text, str):
            self.fail(
                f"condition must be text, not {type(text).__name__} {text!r}; quote it",
                condition_line,
                name,
            )
        try:
            condition = parse_condition(text, known_fields=fields, lists=lists, rule=name)
        except RuleError as exc:
            raise relocate(exc, self.at(condition_line)) from None
        return Rule(name, condition, action, priority, description.strip(), enabled, "rule", line)

    def action(self, raw: Any, line: int | None, name: str) -> Action:
        if isinstance(raw, str):
            word = raw.strip().lower()
            for action in ACTIONS:
                if word == action:
                    return action
            if word in _SYNONYMS:
                hint = f" — did you mean '{_SYNONYMS[word]}'?"
            else:
                hint = suggest(word, ACTIONS)
        else:
            hint = ""
        self.fail(f"unknown action {raw!r}{hint}; use one of {', '.join(ACTIONS)}", line, name)

    def load(
        self, text: str, known_fields: Collection[str] | Mapping[str, FieldType] | None
    ) -> RuleSet:
        data, root = self.compose(text)
        if data is None:
            self.fail("the rules file is empty; see examples/rules.yaml for the format", None)
        if not isinstance(data, Mapping):
            self.fail(
                "the rules file must be a mapping with keys version, denylist, allowlist, "
                "lists and rules",
                1,
            )
        lines = _key_lines(root)
        for key in data:
            if key not in _TOP_KEYS:
                self.fail(
                    f"unknown top-level key '{key}'{suggest(str(key), _TOP_KEYS)}; "
                    f"allowed: {', '.join(_TOP_KEYS)}",
                    lines.get(str(key)),
                )
        version = data.get("version", 1)
        if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
            self.fail(
                f"unsupported version {version!r}; this fraudwatch reads version "
                f"{', '.join(map(str, SUPPORTED_VERSIONS))}",
                lines.get("version"),
            )
        lists = self.lists(data, lines)
        raw_rules = data.get("rules") or []
        if not isinstance(raw_rules, list):
            self.fail("'rules' must be a list of rules (each starting with '- name:')", None)
        nodes = _rule_nodes(root)
        fields = resolve_field_types(known_fields)
        rules: list[Rule] = []
        seen: dict[str, int | None] = {}
        for i, raw in enumerate(raw_rules):
            rule = self.rule(i, raw, nodes[i] if i < len(nodes) else None, lists, fields)
            if rule.name in seen:
                first = seen[rule.name]
                self.fail(
                    f"duplicate rule name (first defined at line {first}); names must be unique",
                    rule.line,
                    rule.name,
                )
            seen[rule.name] = rule.line
            rules.append(rule)
        ruleset = RuleSet(rules, lists, version=int(version), source=self.label)
        log.debug("loaded %s", ruleset)
        return ruleset


def _scalar(node: yaml.MappingNode, key: str) -> str | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.ScalarNode):
            return str(v.value)
    return None


def _key_lines(root: yaml.Node | None) -> dict[str, int]:
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {
        str(k.value): k.start_mark.line + 1 for k, _ in root.value if isinstance(k, yaml.ScalarNode)
    }


def _value_line(node: yaml.Node | None, key: str) -> int | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            line: int = v.start_mark.line + 1
            style = getattr(v, "style", None)
            return line + 1 if style in ("|", ">") else line
    return None


def _rule_nodes(root: yaml.Node | None) -> list[yaml.Node]:
    if not isinstance(root, yaml.MappingNode):
        return []
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "rules":
            return list(v.value) if isinstance(v, yaml.SequenceNode) else []
    return []


def _is_path(source: str | os.PathLike[str]) -> bool:
    if not isinstance(source, str):
        return True
    if "\n" in source:
        return False
    return source.endswith((".yaml", ".yml")) or Path(source).is_file()


def load_rules(
    source: str | os.PathLike[str],
    known_fields: Collection[str] | Mapping[str, FieldType] | None = None,
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> RuleSet:
    """Load and validate a rules file.

    Parameters
    ----------
    source:
        A path (``Path``, or a string without a newline naming a ``.yaml``/``.yml`` or
        existing file), or the YAML text itself.
    known_fields:
        Names available besides the canonical transaction fields, usually a feature set's
        ``names`` (non-canonical names are numbers), or ``{name: type}``. ``None`` accepts
        any name: validate later with :meth:`RuleSet.prepare_frame`.
    base_dir:
        Folder that list file paths are relative to; defaults to the rules file's folder
        (the working directory for YAML text).

    Returns
    -------
    RuleSet

    Raises
    ------
    RuleError
        The file is not valid YAML, or a rule or list is invalid: the message names the
        rule, the line and, for conditions, the 0-based position.
    InputFileError
        The file cannot be read.

    Examples
    --------
    >>> rs = load_rules('''
    ... rules:
    ...   - name: large_amount
    ...     condition: amount > 25000
    ...     action: review
    ... ''')
    >>> [r.name for r in rs.rules]
    ['large_amount']
    """
    if _is_path(source):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputFileError(
                f"rules file {path} does not exist; check the path (see examples/rules.yaml)",
                path=str(path),
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"cannot read rules file {path}: {exc}", path=str(path)) from exc
        label = str(path)
        folder = path.parent
    else:
        text = str(source)
        label = "<rules>"
        folder = Path.cwd()
    if base_dir is not None:
        folder = Path(base_dir)
    return _Loader(label, folder).load(text, known_fields)
