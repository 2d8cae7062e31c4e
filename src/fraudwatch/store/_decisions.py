"""Decisions and cases: the hot write path of the service and the analysts' queue."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, update

from fraudwatch.errors import ConfigError, NotFoundError
from fraudwatch.store._base import check_name
from fraudwatch.store._convert import (
    case_from_row,
    check_choice,
    check_limit,
    check_time,
    decision_from_row,
    feedback_from_row,
)
from fraudwatch.store._cursor import decode_cursor, encode_cursor
from fraudwatch.store._errors import CaseConflictError
from fraudwatch.store._recording import RecordingMixin
from fraudwatch.store._records import Case, CaseDetail, Decision, Page
from fraudwatch.store._schema import CASE_STATUSES, LABELS, cases, decisions, feedback

__all__ = ["DecisionsMixin"]

_CASE_COLUMNS = (
    *cases.c,
    decisions.c.decision,
    decisions.c.score,
    decisions.c.card_id,
    decisions.c.amount,
)


def _case_query() -> Select[Any]:
    return select(*_CASE_COLUMNS).join(
        decisions, decisions.c.transaction_id == cases.c.transaction_id
    )


def _parse_case_key(key: list[Any]) -> tuple[datetime, int]:
    try:
        opened = datetime.fromisoformat(key[0])
        case_id = key[1]
        if len(key) != 2 or not isinstance(case_id, int) or opened.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, IndexError):
        raise ConfigError(
            "invalid cursor; pass the next_cursor of the previous page unchanged"
        ) from None
    return opened, case_id


class DecisionsMixin(RecordingMixin):
    """A card's decisions; list, show and resolve cases."""

    # -- decisions ----------------------------------------------------------------------

    def recent_decisions_for_card(
        self, card_id: str, limit: int = 20, *, before: datetime | None = None
    ) -> list[Decision]:
        """The card's latest decisions, most recent transaction first.

        Parameters
        ----------
        card_id:
            The card.
        limit:
            At most this many (1-1000).
        before:
            Only transactions strictly earlier than this.
        """
        check_limit(limit)
        query = select(decisions).where(decisions.c.card_id == card_id)
        if before is not None:
            query = query.where(decisions.c.timestamp < check_time("before", before))
        query = query.order_by(
            decisions.c.timestamp.desc(), decisions.c.transaction_id.desc()
        ).limit(limit)
        with self._engine.connect() as conn:
            return [decision_from_row(r) for r in conn.execute(query)]

    # -- cases -----------------------------------------------------------------------------

    def list_cases(
        self,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        *,
        newest_first: bool = False,
    ) -> Page[Case]:
        """One page of cases, in the order they were opened.

        The default order, oldest first, is a work queue: cases opened while a client pages
        through are appended at the end, and no case is returned twice or skipped (keyset
        pagination on ``(opened_at, id)``).

        Parameters
        ----------
        status:
            ``open``, ``resolved``, or ``None`` for both.
        limit:
            Page size, 1-1000.
        cursor:
            ``next_cursor`` of the previous page; ``None`` for the first page.
        newest_first:
            Most recently opened first instead.

        Raises
        ------
        ConfigError
            Unknown status, bad limit, or a cursor that is malformed or belongs to another
            listing (other status or order).
        """
        if status is not None:
            check_choice("status", status, CASE_STATUSES)
        check_limit(limit)
        filters = {"status": status, "newest_first": newest_first}
        query = _case_query()
        if status is not None:
            query = query.where(cases.c.status == status)
        if cursor is not None:
            opened, last_id = _parse_case_key(decode_cursor(cursor, "cases", filters))
            if newest_first:
                after = or_(
                    cases.c.opened_at < opened,
                    and_(cases.c.opened_at == opened, cases.c.id < last_id),
                )
            else:
                after = or_(
                    cases.c.opened_at > opened,
                    and_(cases.c.opened_at == opened, cases.c.id > last_id),
                )
            query = query.where(after)
        if newest_first:
            query = query.order_by(cases.c.opened_at.desc(), cases.c.id.desc())
        else:
            query = query.order_by(cases.c.opened_at.asc(), cases.c.id.asc())
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        items = [case_from_row(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor("cases", [last.opened_at, last.id], filters)
        return Page(items=items, next_cursor=next_cursor)

    def get_case(self, case_id: int, *, history: int = 20) -> CaseDetail:
        """A case with its decision, the card's earlier decisions and the feedback received.

        Parameters
        ----------
        case_id:
            The case.
        history:
            How many of the card's earlier transactions to include (1-1000).

        Raises
        ------
        NotFoundError
            No case has this id.
        """
        check_limit(history)
        with self._engine.connect() as conn:
            row = conn.execute(_case_query().where(cases.c.id == case_id)).first()
            if row is None:
                raise NotFoundError(f"case {case_id} does not exist; list cases with GET /v1/cases")
            case = case_from_row(row)
            dec_row = conn.execute(
                select(decisions).where(decisions.c.transaction_id == case.transaction_id)
            ).one()
            decision = decision_from_row(dec_row)
            hist_rows = conn.execute(
                select(decisions)
                .where(
                    decisions.c.card_id == decision.card_id,
                    decisions.c.timestamp <= decision.timestamp,
                    decisions.c.transaction_id != decision.transaction_id,
                )
                .order_by(decisions.c.timestamp.desc(), decisions.c.transaction_id.desc())
                .limit(history)
            ).all()
            fb_rows = conn.execute(
                select(feedback, decisions.c.card_id, decisions.c.timestamp)
                .join(decisions, decisions.c.transaction_id == feedback.c.transaction_id)
                .where(feedback.c.transaction_id == case.transaction_id)
                .order_by(feedback.c.received_at, feedback.c.id)
            ).all()
        return CaseDetail(
            case=case,
            decision=decision,
            card_history=[decision_from_row(r) for r in hist_rows],
            feedback=[feedback_from_row(r) for r in fb_rows],
        )

    def case_for_transaction(self, transaction_id: str) -> Case | None:
        """The case opened by a transaction's decision, or ``None`` (allowed, or unknown)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                _case_query().where(cases.c.transaction_id == transaction_id)
            ).first()
        return None if row is None else case_from_row(row)

    def resolve_case(
        self,
        case_id: int,
        resolution: str,
        *,
        actor: str,
        note: str | None = None,
        at: datetime | None = None,
    ) -> Case:
        """Close a case as ``fraud`` or ``legit``; the resolution is audited.

        Resolving an already resolved case with the same resolution changes nothing and
        returns it (safe to retry); with a different resolution it raises
        :class:`CaseConflictError` (submit feedback to correct a label instead).

        Raises
        ------
        NotFoundError
            No case has this id.
        CaseConflictError
            The case was already resolved differently.
        ConfigError
            ``resolution`` is not fraud/legit, or ``actor`` is empty.
        """
        check_choice("resolution", resolution, LABELS)
        check_name("actor", actor)
        when = self._now(at)
        with self._write.begin() as conn:
            row = conn.execute(select(cases).where(cases.c.id == case_id).with_for_update()).first()
            if row is None:
                raise NotFoundError(f"case {case_id} does not exist; list cases with GET /v1/cases")
            current = row._mapping
            if current["status"] == "resolved":
                if current["resolution"] != resolution:
                    raise CaseConflictError(
                        case_id,
                        resolution=current["resolution"],
                        resolved_by=current["resolved_by"],
                        resolved_at=current["resolved_at"],
                        requested=resolution,
                    )
            else:
                self._close_case(
                    conn, case_id, resolution, actor=actor, note=note, at=when, via=None
                )
            out = conn.execute(_case_query().where(cases.c.id == case_id)).one()
        return case_from_row(out)

    def _close_case(
        self,
        conn: Any,
        case_id: int,
        resolution: str,
        *,
        actor: str,
        note: str | None,
        at: datetime,
        via: Mapping[str, Any] | None,
    ) -> None:
        """Mark an open case resolved and audit it, inside the caller's transaction."""
        conn.execute(
            update(cases)
            .where(cases.c.id == case_id)
            .values(
                status="resolved",
                resolution=resolution,
                resolved_by=actor,
                resolved_at=at,
                note=note,
            )
        )
        details: dict[str, Any] = {"resolution": resolution}
        if note:
            details["note"] = note
        if via:
            details.update(via)
        self._write_audit(
            conn,
            actor=actor,
            action="case.resolve",
            target=f"case:{case_id}",
            details=details,
            at=at,
        )
