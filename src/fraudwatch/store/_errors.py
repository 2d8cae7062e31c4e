"""Errors specific to the store (all are :class:`fraudwatch.errors.UserError`)."""

from __future__ import annotations

from datetime import datetime

from fraudwatch.errors import ConflictError

__all__ = ["CaseConflictError"]


class CaseConflictError(ConflictError):
    """A case is already resolved with a different resolution (HTTP 409).

    Resolving a case again with the *same* resolution is a no-op; to correct a label after
    the case was closed, submit feedback for the transaction instead.

    Attributes
    ----------
    case_id, resolution, resolved_by, resolved_at:
        The case and how it was resolved.
    """

    def __init__(
        self,
        case_id: int,
        *,
        resolution: str | None,
        resolved_by: str | None,
        resolved_at: datetime | None,
        requested: str,
    ) -> None:
        self.case_id = case_id
        self.resolution = resolution
        self.resolved_by = resolved_by
        self.resolved_at = resolved_at
        when = resolved_at.isoformat() if resolved_at else "an unknown time"
        super().__init__(
            f"case {case_id} was already resolved as {resolution!r} by {resolved_by} at "
            f"{when}; it cannot be resolved as {requested!r}. To correct the label, submit "
            "feedback for its transaction (it is kept for retraining and audited)"
        )
