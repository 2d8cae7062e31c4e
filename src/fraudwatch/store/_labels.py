"""Feedback (labels), the audit log, and the export of labelled transactions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from fraudwatch.errors import ConfigError, NotFoundError
from fraudwatch.store._base import check_name
from fraudwatch.store._convert import (
    audit_from_row,
    check_choice,
    check_limit,
    check_time,
    feedback_from_row,
    iso_utc,
)
from fraudwatch.store._cursor import decode_cursor, encode_cursor
from fraudwatch.store._decisions import DecisionsMixin
from fraudwatch.store._export import labelled_frame
from fraudwatch.store._records import AuditEntry, Feedback, Page
from fraudwatch.store._schema import FEEDBACK_SOURCES, LABELS, audit_log, cases, decisions, feedback

if TYPE_CHECKING:
    import polars as pl

__all__ = ["LabelsMixin"]


def _feedback_query() -> Any:
    return select(feedback, decisions.c.card_id, decisions.c.timestamp).join(
        decisions, decisions.c.transaction_id == feedback.c.transaction_id
    )


class LabelsMixin(DecisionsMixin):
    """Feedback, audit log and training export."""

    # -- feedback --------------------------------------------------------------------------

    def add_feedback(
        self,
        transaction_id: str,
        label: str,
        source: str,
        *,
        actor: str,
        note: str | None = None,
        at: datetime | None = None,
    ) -> Feedback:
        """Store a label for a scored transaction and resolve its open case.

        Every label is kept (a chargeback may contradict an analyst); the most recent one is
        the transaction's label for training. If the transaction's case is still open it is
        resolved with this label by ``actor``; a case already resolved is left as it is.
        The label and the resolution are audited, all in one transaction.

        Parameters
        ----------
        transaction_id:
            A transaction that has a stored decision.
        label:
            ``fraud`` or ``legit``.
        source:
            ``analyst``, ``chargeback`` or ``customer``.
        actor:
            Who sent it (API key name, user).
        note:
            Free text.
        at:
            When it was received (default: the store's clock).

        Raises
        ------
        NotFoundError
            No decision is stored for ``transaction_id``.
        ConfigError
            Unknown label or source, or empty actor.
        """
        check_choice("label", label, LABELS)
        check_choice("source", source, FEEDBACK_SOURCES)
        check_name("actor", actor)
        when = self._now(at)
        with self._write.begin() as conn:
            found = conn.execute(
                select(decisions.c.card_id, decisions.c.timestamp).where(
                    decisions.c.transaction_id == transaction_id
                )
            ).first()
            if found is None:
                raise NotFoundError(
                    f"no decision is stored for transaction {transaction_id!r}; feedback "
                    "can only be given on transactions fraudwatch has scored"
                )
            feedback_id = conn.execute(
                feedback.insert().returning(feedback.c.id),
                {
                    "transaction_id": transaction_id,
                    "label": label,
                    "source": source,
                    "note": note,
                    "received_at": when,
                    "actor": actor,
                },
            ).scalar_one()
            open_case = conn.execute(
                select(cases.c.id)
                .where(cases.c.transaction_id == transaction_id, cases.c.status == "open")
                .with_for_update()
            ).scalar_one_or_none()
            if open_case is not None:
                self._close_case(
                    conn,
                    int(open_case),
                    label,
                    actor=actor,
                    note=note,
                    at=when,
                    via={"via": "feedback", "feedback_id": int(feedback_id), "source": source},
                )
            details: dict[str, Any] = {"label": label, "source": source, "feedback_id": feedback_id}
            if note:
                details["note"] = note
            if open_case is not None:
                details["resolved_case"] = int(open_case)
            self._write_audit(
                conn,
                actor=actor,
                action="feedback.add",
                target=f"transaction:{transaction_id}",
                details=details,
                at=when,
            )
        return Feedback(
            id=int(feedback_id),
            transaction_id=transaction_id,
            label=label,
            source=source,
            note=note,
            received_at=when,
            actor=actor,
            card_id=found.card_id,
            timestamp=found.timestamp,
        )

    def feedback_since(
        self, since: datetime, *, limit: int = 1000, after_id: int | None = None
    ) -> list[Feedback]:
        """Labels received at or after ``since``, in the order received.

        Feeds the label-delayed features: poll with the ``received_at`` and ``id`` of the last
        row seen (``since=last.received_at, after_id=last.id``) to read each label once.

        Parameters
        ----------
        since:
            Earliest ``received_at`` (inclusive).
        limit:
            At most this many rows (1-10000).
        after_id:
            Skip rows received exactly at ``since`` whose id is not greater than this.
        """
        start = check_time("since", since)
        check_limit(limit, maximum=10_000)
        query = _feedback_query().where(feedback.c.received_at >= start)
        if after_id is not None:
            query = query.where((feedback.c.received_at > start) | (feedback.c.id > after_id))
        query = query.order_by(feedback.c.received_at, feedback.c.id).limit(limit)
        with self._engine.connect() as conn:
            return [feedback_from_row(r) for r in conn.execute(query)]

    def labelled_transactions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        label_metadata: bool = False,
    ) -> pl.DataFrame:
        """Labelled transactions for retraining, as a canonical transaction frame.

        Each transaction's label is the most recent feedback received before ``until``
        (``is_fraud`` 1 for fraud, 0 for legit); only transactions whose latest label was
        received at or after ``since`` are returned, sorted by ``timestamp``.

        Parameters
        ----------
        since, until:
            Window on the time the label was received (``until`` exclusive); ``None`` is
            unbounded.
        label_metadata:
            Add ``label_received_at`` (Datetime UTC) and ``label_source`` columns, which the
            label-delay-aware training split needs (not canonical columns: drop them before
            validating the frame).

        Returns
        -------
        polars.DataFrame
            The canonical columns present in the stored transactions, with canonical dtypes,
            numeric pass-through fields as Float64, and ``is_fraud`` (Int8).
        """
        start = None if since is None else check_time("since", since)
        end = None if until is None else check_time("until", until)
        query = select(
            feedback.c.transaction_id,
            feedback.c.label,
            feedback.c.source,
            feedback.c.received_at,
            decisions.c.transaction,
            decisions.c.timestamp,
        ).join(decisions, decisions.c.transaction_id == feedback.c.transaction_id)
        if end is not None:
            query = query.where(feedback.c.received_at < end)
        query = query.order_by(feedback.c.received_at, feedback.c.id)
        latest: dict[str, Any] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(query):
                latest[row.transaction_id] = row
        rows = [r for r in latest.values() if start is None or r.received_at >= start]
        rows.sort(key=lambda r: (r.timestamp, r.transaction_id))
        return labelled_frame(
            [dict(r.transaction) for r in rows],
            timestamps=[r.timestamp for r in rows],
            labels=[r.label for r in rows],
            sources=[r.source for r in rows] if label_metadata else None,
            received=[r.received_at for r in rows] if label_metadata else None,
        )

    # -- audit log -------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Write one audit entry (e.g. ``model.reload``) in its own transaction.

        The store audits its own changes (``case.resolve``, ``feedback.add``,
        ``apikey.create``, ``apikey.revoke``); call this for other actions.

        Parameters
        ----------
        actor:
            Who: an API key name, ``cli:<user>``, ``system``.
        action:
            What, as ``noun.verb`` (``model.reload``).
        target:
            On what, as ``kind:id`` (``model:v7``).
        details:
            JSON-serialisable context.
        at:
            When (default: the store's clock).
        """
        when = self._now(at)
        with self._write.begin() as conn:
            entry_id = self._write_audit(
                conn, actor=actor, action=action, target=target, details=details, at=when
            )
            row = conn.execute(select(audit_log).where(audit_log.c.id == entry_id)).one()
        return audit_from_row(row)

    def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """Audit entries, newest first, optionally filtered (exact matches).

        Parameters
        ----------
        actor, action, target:
            Keep only entries with exactly this value.
        since, until:
            Window on ``at`` (``until`` exclusive).
        limit:
            Page size, 1-1000.
        cursor:
            ``next_cursor`` of the previous page.

        Raises
        ------
        ConfigError
            Bad limit, naive datetimes, or a cursor from another listing.
        """
        check_limit(limit)
        start = None if since is None else check_time("since", since)
        end = None if until is None else check_time("until", until)
        filters = {
            "actor": actor,
            "action": action,
            "target": target,
            "since": None if start is None else iso_utc(start),
            "until": None if end is None else iso_utc(end),
        }
        query = select(audit_log)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        if start is not None:
            query = query.where(audit_log.c.at >= start)
        if end is not None:
            query = query.where(audit_log.c.at < end)
        if cursor is not None:
            key = decode_cursor(cursor, "audit", filters)
            if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool):
                raise ConfigError(
                    "invalid cursor; pass the next_cursor of the previous page unchanged"
                )
            query = query.where(audit_log.c.id < key[0])
        query = query.order_by(audit_log.c.id.desc()).limit(limit + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        items = [audit_from_row(r) for r in rows[:limit]]
        next_cursor = encode_cursor("audit", [items[-1].id], filters) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)
