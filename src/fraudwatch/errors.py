"""The exception hierarchy of fraudwatch.

Every error raised on purpose by fraudwatch derives from :class:`FraudwatchError`.
Messages say what was wrong *and* how to fix it; errors carry context (row number,
transaction id, model version, rule name) as attributes so callers can render them.

Hierarchy::

    FraudwatchError
    ├── UserError                   bad input from the user: CLI exit code 2, HTTP 4xx
    │   ├── ConfigError             invalid settings or parameters
    │   ├── InputFileError          a file cannot be read (missing, empty, encoding, format)
    │   ├── MissingColumnsError     required columns are absent (names found and missing)
    │   ├── DataValidationError     rows violate the schema (strict mode)
    │   ├── FeatureError            a feature cannot be computed from the data given
    │   ├── RuleError               a rule file or expression is invalid (rule and position)
    │   ├── BundleError             a model bundle is missing, tampered or incompatible
    │   ├── NotFoundError           an entity (transaction, case, model version) does not exist
    │   └── ConflictError           the request contradicts the stored state (HTTP 409)
    └── StateStoreError             the online state backend failed (internal: exit code 1)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BundleError",
    "ConfigError",
    "ConflictError",
    "DataValidationError",
    "FeatureError",
    "FraudwatchError",
    "InputFileError",
    "MissingColumnsError",
    "NotFoundError",
    "PartialStateError",
    "RuleError",
    "StateStoreError",
    "UserError",
]


class FraudwatchError(Exception):
    """Base class of every error fraudwatch raises on purpose."""


class UserError(FraudwatchError):
    """The user's input (file, parameter, request) is wrong; the message says how to fix it."""


class ConfigError(UserError):
    """A setting or parameter has an invalid value."""


class InputFileError(UserError):
    """A file cannot be read: missing, empty, undecodable or of an unknown format.

    Parameters
    ----------
    message:
        What went wrong and how to fix it.
    path:
        The file concerned.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class MissingColumnsError(UserError):
    """Required columns are missing from an input.

    The message names the missing columns and lists the columns that were found.
    """

    def __init__(
        self,
        missing: Sequence[str],
        found: Sequence[str],
        *,
        source: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.missing = list(missing)
        self.found = list(found)
        self.source = source
        where = f" in {source}" if source else ""
        msg = (
            f"missing required column(s){where}: {', '.join(self.missing)}; "
            f"columns found: {', '.join(self.found) if self.found else '(none)'}"
        )
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class DataValidationError(UserError):
    """A row violates the transaction schema (raised in strict mode).

    Parameters
    ----------
    message:
        The reason.
    row:
        One-based line/row number in the input, when known.
    transaction_id:
        The offending transaction, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        transaction_id: str | None = None,
    ) -> None:
        self.row = row
        self.transaction_id = transaction_id
        parts = []
        if row is not None:
            parts.append(f"row {row}")
        if transaction_id is not None:
            parts.append(f"transaction {transaction_id!r}")
        prefix = f"{', '.join(parts)}: " if parts else ""
        super().__init__(prefix + message)


class FeatureError(UserError):
    """A feature cannot be computed from the data or state given."""


class RuleError(UserError):
    """A rule file or rule expression is invalid.

    Parameters
    ----------
    message:
        What is wrong.
    rule:
        The rule's name, when known.
    position:
        Zero-based character offset in the rule's condition, when known.
    """

    def __init__(self, message: str, *, rule: str | None = None, position: int | None = None):
        self.rule = rule
        self.position = position
        where = []
        if rule is not None:
            where.append(f"rule {rule!r}")
        if position is not None:
            where.append(f"position {position}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class BundleError(UserError):
    """A model bundle is missing, tampered with, or incompatible with the features."""

    def __init__(self, message: str, *, version: str | None = None) -> None:
        self.version = version
        prefix = f"model {version}: " if version else ""
        super().__init__(prefix + message)


class NotFoundError(UserError):
    """An entity that was asked for does not exist."""


class ConflictError(UserError):
    """The request contradicts what is stored (e.g. resolving a closed case differently)."""


class StateStoreError(FraudwatchError):
    """The online feature state backend failed (connection lost, script error)."""


class PartialStateError(StateStoreError):
    """Some requests of one store call failed on the server; the others were applied.

    ``results`` holds, in request order, each applied request's read (or ``None``) and, for
    each failed one, its own :class:`StateStoreError`. A caller can keep the reads of the
    applied requests (they are recorded) and fail only the others.
    """

    def __init__(self, message: str, results: Sequence[object]) -> None:
        super().__init__(message)
        self.results = list(results)
