"""The decision service: scoring with idempotency, durable persistence, cases, feedback, reload.

One instance lives in ``app.state.service``. Its invariants:

* **Idempotent on transaction_id.** A stored decision is looked up before scoring, so a retry
  returns it and does not touch the online features again; concurrent duplicates inside one
  process wait for the first request instead of scoring twice.
* **Durable before answered.** A decision is returned only after the transaction storing it
  has committed (see docs/operations.md).
* **Reload without failures.** A new scorer is built completely off the event loop, then one
  reference is swapped; a request uses the scorer it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import text

from fraudwatch.errors import BundleError, ConfigError, FeatureError
from fraudwatch.serving._auth import KeyCache, Principal
from fraudwatch.serving._config import ServiceConfig
from fraudwatch.serving._errors import ApiError
from fraudwatch.serving._metrics import ServiceMetrics
from fraudwatch.serving._protocols import Clock, ScoreResultLike, ScorerLike
from fraudwatch.serving._schemas import TransactionIn
from fraudwatch.serving._writer import GroupWriter, LoopWriter
from fraudwatch.store import (
    Case,
    CaseConflictError,
    Decision,
    DecisionInput,
    DecisionSession,
    RecordResult,
    Store,
    WalCheckpointer,
)

__all__ = ["DecisionService", "ScorerFactory"]

log = logging.getLogger(__name__)

T = TypeVar("T")

ScorerFactory = Callable[[ScorerLike | None], ScorerLike]
"""Builds a scorer for the current champion; gets the scorer being replaced (or ``None`` at
start-up) so the new one can share its online feature state."""

_LABELS = {"fraud": 1, "legit": 0}


@dataclass(frozen=True, slots=True)
class _Pending:
    """A scored transaction waiting to be stored: what to store, and what it came from."""

    item: DecisionInput
    result: ScoreResultLike
    reasons: list[dict[str, Any]]


def _score_group(
    scorer: ScorerLike,
    todo: Sequence[tuple[int, dict[str, Any]]],
    failures: dict[int, BaseException],
    *,
    stop_at_failure: bool,
) -> list[tuple[int, dict[str, Any], ScoreResultLike]]:
    """Score the ``(index, record)`` of ``todo`` in order; put each failure in ``failures``.

    The group goes through the scorer's ``score_each`` at once: every record is recorded in
    the feature state, then each gets its result or its own error. When one record has an
    unusable field, ``score_each`` raises a ``FeatureError`` before recording any of them,
    and they are scored one by one instead (also for a scorer without ``score_each``), so
    that only that record fails; with ``stop_at_failure`` (a batch call, scored in order)
    the records after it are then not scored and fail with it. Errors that come after a
    record is in the feature state (the store failing on that record alone, its prediction,
    decision or reasons) fail that record only: the others are recorded too, so they are
    stored, and a retry replays them. An error of the whole store call (the server
    unreachable) fails every record.
    """
    if not todo:
        return []
    each = getattr(scorer, "score_each", None)
    if each is not None:
        try:
            results = each([record for _, record in todo])
        except FeatureError:
            pass  # nothing recorded: one by one below
        except Exception as exc:
            for i, _ in todo:
                failures[i] = exc
            return []
        else:
            out: list[tuple[int, dict[str, Any], ScoreResultLike]] = []
            for (i, record), r in zip(todo, results, strict=True):
                if isinstance(r, BaseException):
                    failures[i] = r
                else:
                    out.append((i, record, r))
            return out
    out = []
    for k, (i, record) in enumerate(todo):
        try:
            out.append((i, record, scorer.score_one(record)))
        except Exception as exc:
            failures[i] = exc
            if stop_at_failure:
                for j, _ in todo[k + 1 :]:
                    failures[j] = exc
                break
    return out


def _reason_dicts(result: ScoreResultLike) -> list[dict[str, Any]]:
    return [
        {
            "feature": r.feature,
            "value": r.value,
            "contribution": float(r.contribution),
            "phrase": r.phrase,
        }
        for r in result.reasons
    ]


def _decision_body(
    d: Decision, case_id: int | None, *, replayed: bool, latency_ms: float
) -> dict[str, Any]:
    return {
        "transaction_id": d.transaction_id,
        "score": d.score,
        "anomaly_score": d.anomaly_score,
        "decision": d.decision,
        "reasons": list(d.reasons),
        "rules_fired": list(d.rules_fired),
        "model_version": d.model_version,
        "case_id": case_id,
        "replayed": replayed,
        "server_latency_ms": latency_ms,
    }


def case_body(c: Case) -> dict[str, Any]:
    """The JSON of a case summary."""
    return {
        "case_id": c.id,
        "transaction_id": c.transaction_id,
        "card_id": c.card_id,
        "amount": c.amount,
        "status": c.status,
        "decision": c.decision,
        "score": c.score,
        "opened_at": c.opened_at,
        "resolved_at": c.resolved_at,
        "resolution": c.resolution,
        "resolved_by": c.resolved_by,
        "note": c.note,
    }


class DecisionService:
    """Everything behind the HTTP routes.

    Parameters
    ----------
    config:
        The service configuration.
    scorer:
        The scorer to start with.
    store:
        The service database.
    metrics:
        Where to record decisions, stages and reloads.
    clock:
        Wall clock (audit and label timestamps).
    timer:
        Monotonic seconds (latencies).
    scorer_factory:
        Builds the champion's scorer on reload; ``None`` disables reloading.
    """

    def __init__(
        self,
        config: ServiceConfig,
        *,
        scorer: ScorerLike,
        store: Store,
        metrics: ServiceMetrics,
        clock: Clock,
        timer: Callable[[], float],
        scorer_factory: ScorerFactory | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.timer = timer
        self._scorer = scorer
        self._factory = scorer_factory
        self._pool = ThreadPoolExecutor(config.db_threads, thread_name_prefix="fraudwatch-db")
        local = store.backend == "sqlite"
        self._writer: GroupWriter[_Pending, RecordResult] | LoopWriter[_Pending, RecordResult]
        # The idempotency lookups and the group commits: on the event loop with SQLite (one
        # connection kept for both), else through the pool from the loop's executor and the
        # writer thread.
        self._session: DecisionSession | None = None
        self._recorder: Store | DecisionSession = store
        self._checkpointer: WalCheckpointer | None = None
        if local and config.sqlite_writes == "loop":
            self._writer = LoopWriter(
                self._write_many,
                min_interval_s=config.sqlite_commit_interval_ms / 1000.0,
            )
            self._session = self._recorder = store.decision_session()
            if config.sqlite_checkpoint_ms > 0:
                self._checkpointer = store.wal_checkpointer(
                    interval_s=config.sqlite_checkpoint_ms / 1000.0
                )
        else:
            self._writer = GroupWriter(self._write_many)
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # single-transaction requests waiting to be decided together (see score())
        self._group: list[tuple[TransactionIn, float]] = []
        self._group_tasks: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()
        self.keys = KeyCache(
            store, ttl_s=config.key_cache_seconds, timer=timer, executor=self._pool
        )
        self._inline_reads = local
        metrics.set_model(scorer.model_version)

    # -- life cycle ------------------------------------------------------------------------

    @property
    def scorer(self) -> ScorerLike:
        """The scorer now serving."""
        return self._scorer

    def start(self) -> None:
        """Start the decision writer (and the WAL checkpointer, with SQLite on the loop)."""
        self._writer.start()
        if self._checkpointer is not None:
            self._checkpointer.start()

    async def aclose(self) -> None:
        """Store what is queued, then release threads (the store is closed by its owner)."""
        while self._group_tasks:  # groups being decided: let them store and answer
            await asyncio.gather(*self._group_tasks, return_exceptions=True)
        if isinstance(self._writer, LoopWriter):
            self._writer.stop()
        else:
            await asyncio.to_thread(self._writer.stop)
        if self._session is not None:
            self._session.close()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        await asyncio.to_thread(self._pool.shutdown, True)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- scoring ---------------------------------------------------------------------------

    def _write_many(self, items: Sequence[_Pending]) -> list[RecordResult]:
        """Store a group of decisions in one transaction (one commit for all of them)."""
        return self._recorder.record_decisions([p.item for p in items])

    def _find_many(self, ids: Sequence[str]) -> list[RecordResult | None]:
        find = self._recorder.find_record
        return [find(tid) for tid in ids]

    def _elapsed_ms(self, t0: float) -> float:
        return round((self.timer() - t0) * 1000.0, 3)

    async def score(self, tx: TransactionIn, t0: float) -> dict[str, Any]:
        """Decide on one transaction; return the JSON-ready response body.

        Requests that arrive together are decided together: the first one waits for one
        turn of the event loop, so that the requests already received (whose tasks are
        queued behind it) join its group, then decides the group (at most
        ``config.micro_batch``) in arrival order through ``score_many`` and one group
        commit. Each request still gets its own answer or error. When requests arrive one
        at a time, each is a group of one, decided as soon as it is read.

        Parameters
        ----------
        tx:
            The validated transaction.
        t0:
            When the request arrived (``timer()`` seconds), for the reported latency.
        """
        tid = tx.transaction_id
        waiting = self._inflight.get(tid)
        if waiting is not None:  # the same id is being decided by another request
            body = self._replay(await asyncio.shield(waiting))
        else:
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._inflight[tid] = fut
            group, size = self._group, self.config.micro_batch
            if len(group) >= size:  # full: this request starts the next group
                group = self._group = []
            group.append((tx, t0))
            if len(group) == 1:
                await self._lead(group, size > 1)
            body = await asyncio.shield(fut)  # already decided when this request led
        body["server_latency_ms"] = self._elapsed_ms(t0)
        return body

    async def _lead(self, group: list[tuple[TransactionIn, float]], gather: bool) -> None:
        """Let ``group`` fill for one loop turn (when ``gather``), then have it decided.

        A group of one is decided here, as a request on its own always was. A larger one is
        decided by a task of its own, which this request's cancellation cannot interrupt
        (the others of the group wait for it); so is the group when this request is
        cancelled while it waits for the others to join.
        """
        if gather:
            try:
                await asyncio.sleep(0)
            except BaseException:
                self._close_group(group)
                self._spawn(group)
                raise
        self._close_group(group)
        if len(group) > 1:
            self._spawn(group)
            return
        # its error reaches this request through its future, like any member's
        with contextlib.suppress(Exception):
            await self._decide_group(group)

    def _close_group(self, group: list[tuple[TransactionIn, float]]) -> None:
        """No request joins ``group`` from now on."""
        if self._group is group:
            self._group = []

    def _spawn(self, group: Sequence[tuple[TransactionIn, float]]) -> None:
        task = asyncio.get_running_loop().create_task(self._decide_group(group))
        self._group_tasks.add(task)
        task.add_done_callback(self._group_done)

    def _group_done(self, task: asyncio.Task[None]) -> None:
        self._group_tasks.discard(task)
        if not task.cancelled():
            task.exception()  # delivered to every request of the group through its future

    async def _decide_group(self, group: Sequence[tuple[TransactionIn, float]]) -> None:
        txs = [tx for tx, _ in group]
        try:
            owned = {tx.transaction_id: self._inflight[tx.transaction_id] for tx in txs}
            self.metrics.group(len(txs))
        except BaseException as exc:  # never leave a request of the group waiting
            for tx in txs:
                fut = self._inflight.pop(tx.transaction_id, None)
                if fut is not None and not fut.done():
                    fut.set_exception(exc)
                    fut.exception()
            raise
        bodies: list[dict[str, Any] | None] = [None] * len(txs)
        await self._decide_and_publish(
            txs, range(len(txs)), owned, bodies, [t for _, t in group], stop_at_failure=False
        )

    async def score_many(self, txs: Sequence[TransactionIn], t0: float) -> list[dict[str, Any]]:
        """Decide on several transactions, scored in request order.

        Raises
        ------
        ApiError
            413 when the batch is larger than ``max_batch``.
        """
        if len(txs) > self.config.max_batch:
            raise ApiError(
                413,
                "payload_too_large",
                f"{len(txs)} transactions in one call; at most {self.config.max_batch} are "
                "accepted (split the batch, or raise --max-batch)",
            )
        return await self.decide(txs, t0)

    async def decide(self, txs: Sequence[TransactionIn], t0: float) -> list[dict[str, Any]]:
        """Score what is new, replay what is stored or in flight, store, then answer.

        The transactions are scored in the order given (the card's features depend on it);
        a repeated ``transaction_id`` (in the batch, in flight in another request, or stored
        already) gets the first decision with ``replayed: true``.
        """
        loop = asyncio.get_running_loop()
        n = len(txs)
        bodies: list[dict[str, Any] | None] = [None] * n
        first: dict[str, int] = {}
        dup_of: dict[int, int] = {}
        waits: dict[int, asyncio.Future[dict[str, Any]]] = {}
        mine: list[int] = []
        owned: dict[str, asyncio.Future[dict[str, Any]]] = {}
        for i, tx in enumerate(txs):
            tid = tx.transaction_id
            if tid in first:
                dup_of[i] = first[tid]
                continue
            first[tid] = i
            waiting = self._inflight.get(tid)
            if waiting is not None:
                waits[i] = waiting
                continue
            fut: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._inflight[tid] = fut
            owned[tid] = fut
            mine.append(i)
        if mine:
            failures = await self._decide_and_publish(
                txs, mine, owned, bodies, [t0] * n, stop_at_failure=True
            )
            if failures:
                raise failures[min(failures)]
        for i, waiting in waits.items():
            bodies[i] = self._replay(await asyncio.shield(waiting))
        for i, j in dup_of.items():
            src = bodies[j]
            assert src is not None
            bodies[i] = self._replay(src)
        latency = self._elapsed_ms(t0)
        out: list[dict[str, Any]] = []
        for b in bodies:
            assert b is not None
            b["server_latency_ms"] = latency
            out.append(b)
        return out

    async def _decide_and_publish(
        self,
        txs: Sequence[TransactionIn],
        mine: Sequence[int],
        owned: Mapping[str, asyncio.Future[dict[str, Any]]],
        bodies: list[dict[str, Any] | None],
        t0s: Sequence[float],
        *,
        stop_at_failure: bool,
    ) -> dict[int, BaseException]:
        """Decide the transactions this request owns, then hand each body (or its failure)
        to the requests waiting on its id, and release the ids; return the failures by
        index. An error of the whole group (the database) goes to every id, then is raised.
        """
        try:
            failures = await self._decide_owned(txs, mine, bodies, t0s, stop_at_failure)
            for i in mine:
                fut = owned[txs[i].transaction_id]
                failed = failures.get(i)
                if failed is not None:
                    fut.set_exception(failed)
                    fut.exception()  # retrieved: no "never retrieved" log when nobody waited
                    continue
                body = bodies[i]
                assert body is not None
                fut.set_result(body)
            return failures
        except BaseException as exc:
            for f in owned.values():
                if not f.done():
                    f.set_exception(exc)
                    f.exception()  # retrieved: no "never retrieved" log when nobody waited
            raise
        finally:
            for tid in owned:
                del self._inflight[tid]

    def _replay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.metrics.replays.inc()
        out = dict(body)
        out["replayed"] = True
        return out

    async def _decide_owned(
        self,
        txs: Sequence[TransactionIn],
        mine: Sequence[int],
        bodies: list[dict[str, Any] | None],
        t0s: Sequence[float],
        stop_at_failure: bool,
    ) -> dict[int, BaseException]:
        """Decide ``txs[i]`` for each ``i`` of ``mine`` into ``bodies[i]``; return the
        failures by index (every transaction scored is stored, see :func:`_score_group`)."""
        ids = [txs[i].transaction_id for i in mine]
        # A primary-key read from a local SQLite file (~30 µs) costs less than a thread hop;
        # over the network (PostgreSQL) the loop must not wait for the round trip.
        found = self._find_many(ids) if self._inline_reads else await self._db(self._find_many, ids)
        m = self.metrics
        timer = self.timer
        t_parse = timer()
        scored: list[tuple[int, _Pending]] = []
        failures: dict[int, BaseException] = {}
        todo: list[tuple[int, dict[str, Any]]] = []
        for i, stored in zip(mine, found, strict=True):
            m.stage("parse", t_parse - t0s[i])
            if stored is not None:
                m.replays.inc()
                bodies[i] = _decision_body(
                    stored.decision, stored.case_id, replayed=True, latency_ms=0.0
                )
                continue
            todo.append((i, txs[i].to_record()))
        # the scorer these requests started with, even if reloaded meanwhile
        scored_now = _score_group(self._scorer, todo, failures, stop_at_failure=stop_at_failure)
        for i, record, result in scored_now:
            m.scorer_stages(result.timings_us)
            reasons = _reason_dicts(result) if result.reasons else []
            item = DecisionInput(
                transaction={k: v for k, v in record.items() if v is not None},
                score=float(result.score),
                decision=result.decision,
                model_version=result.model_version,
                reasons=reasons,
                rules_fired=list(result.rules_fired),
                anomaly_score=(
                    None if result.anomaly_score is None else float(result.anomaly_score)
                ),
                latency_ms=(timer() - t0s[i]) * 1000.0,
                at=self.clock(),
            )
            scored.append((i, _Pending(item, result, reasons)))
        if scored:
            t_scored = timer()
            saved = await self._persist([p for _, p in scored])
            persisted = timer() - t_scored
            for _ in scored:  # one observation per transaction, as for the other stages
                m.stage("persistence", persisted)
            for (i, p), rec in zip(scored, saved, strict=True):
                if isinstance(rec, BaseException):
                    failures[i] = rec
                    continue
                if not rec.created:
                    # Another worker stored this transaction first: answer with its decision.
                    m.replays.inc()
                    bodies[i] = _decision_body(
                        rec.decision, rec.case_id, replayed=True, latency_ms=0.0
                    )
                    continue
                stored_item = p.item
                m.decision(stored_item.decision, stored_item.score)
                bodies[i] = {
                    "transaction_id": p.result.transaction_id,
                    "score": stored_item.score,
                    "anomaly_score": stored_item.anomaly_score,
                    "decision": stored_item.decision,
                    "reasons": p.reasons,
                    "rules_fired": list(stored_item.rules_fired),
                    "model_version": stored_item.model_version,
                    "case_id": rec.case_id,
                    "replayed": False,
                    "server_latency_ms": 0.0,
                }
        return failures

    async def _persist(self, pending: Sequence[_Pending]) -> list[RecordResult | BaseException]:
        """Queue decisions for the group commit; wait until each is committed (or failed)."""
        try:
            futures = [self._writer.submit(p) for p in pending]
        except RuntimeError as exc:
            raise ApiError(
                503, "service_unavailable", f"the service is shutting down ({exc}); retry"
            ) from None
        if len(futures) == 1:  # the usual case: no gather machinery for one future
            try:
                return [await futures[0]]
            except Exception as exc:
                return [exc]
        return await asyncio.gather(*futures, return_exceptions=True)

    # -- feedback and cases ----------------------------------------------------------------

    async def feedback(
        self,
        transaction_id: str,
        label: str,
        source: str,
        note: str | None,
        principal: Principal,
    ) -> dict[str, Any]:
        """Store a label, resolve the transaction's open case, feed the label to features."""
        at = self.clock()

        def work() -> Any:
            return self.store.add_feedback(
                transaction_id, label, source, actor=principal.actor, note=note, at=at
            )

        fb = await self._db(work)
        self._scorer.add_label(transaction_id, _LABELS[label], at)
        return {
            "feedback_id": fb.id,
            "transaction_id": fb.transaction_id,
            "label": fb.label,
            "source": fb.source,
            "note": fb.note,
            "received_at": fb.received_at,
        }

    async def list_cases(
        self, status: str | None, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """One page of cases, oldest first."""
        try:
            page = await self._db(self.store.list_cases, status, limit, cursor)
        except ConfigError as exc:
            raise ApiError(422, "validation_error", f"cursor: {exc}") from None
        return {"cases": [case_body(c) for c in page.items], "next_cursor": page.next_cursor}

    async def get_case(self, case_id: int) -> dict[str, Any]:
        """A case with its transaction, score, reasons and the card's recent transactions."""
        history = max(1, self.config.recent_transactions)

        def work() -> Any:
            return self.store.get_case(case_id, history=history)

        detail = await self._db(work)
        d = detail.decision
        body = case_body(detail.case)
        body.update(
            {
                "transaction": d.transaction,
                "anomaly_score": d.anomaly_score,
                "reasons": list(d.reasons),
                "rules_fired": list(d.rules_fired),
                "model_version": d.model_version,
                "feedback": [
                    {
                        "feedback_id": f.id,
                        "label": f.label,
                        "source": f.source,
                        "note": f.note,
                        "received_at": f.received_at,
                        "actor": f.actor,
                    }
                    for f in detail.feedback
                ],
                "recent_transactions": [
                    {
                        "transaction_id": h.transaction_id,
                        "timestamp": h.timestamp,
                        "amount": h.amount,
                        "decision": h.decision,
                        "score": h.score,
                    }
                    for h in detail.card_history[: self.config.recent_transactions]
                ],
            }
        )
        return body

    async def resolve_case(
        self, case_id: int, resolution: str, note: str | None, principal: Principal
    ) -> dict[str, Any]:
        """Close a case; the verdict is also stored as an analyst label (once)."""
        at = self.clock()

        def work() -> tuple[Case, bool]:
            case = self.store.resolve_case(
                case_id, resolution, actor=principal.actor, note=note, at=at
            )
            closed_now = case.resolved_at == at and case.resolved_by == principal.actor
            if closed_now:  # this call closed it: keep the verdict as a training label too
                self.store.add_feedback(
                    case.transaction_id,
                    resolution,
                    "analyst",
                    actor=principal.actor,
                    note=note,
                    at=at,
                )
            return case, closed_now

        try:
            case, closed_now = await self._db(work)
        except CaseConflictError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        if closed_now:  # on the loop thread: the in-process state store is not thread-safe
            self._scorer.add_label(case.transaction_id, _LABELS[resolution], at)
        return case_body(case)

    # -- models ----------------------------------------------------------------------------

    def model_info(self) -> dict[str, Any]:
        """The loaded bundle's version and manifest."""
        s = self._scorer
        return {"model_version": s.model_version, "manifest": dict(s.manifest)}

    async def reload(self, principal: Principal | None = None) -> dict[str, Any]:
        """Build the champion's scorer off the loop, then swap it in atomically.

        Parameters
        ----------
        principal:
            Who asked for the reload; the attempt is written to the audit log as
            ``model.reload`` (outcome ``ok`` or ``failed``) under this actor. ``None`` (a reload
            followed from another worker, which audited it already) writes no entry.

        Raises
        ------
        ApiError
            409 when the new bundle cannot be loaded (the old model keeps serving), 503 when
            reloading is not configured.
        """
        if self._factory is None:
            raise ApiError(
                503, "service_unavailable", "this service was started without a model registry"
            )
        factory = self._factory
        async with self._reload_lock:
            old = self._scorer
            try:
                new = await asyncio.get_running_loop().run_in_executor(None, factory, old)
            except (BundleError, ConfigError) as exc:
                self.metrics.reloads.labels("failed").inc()
                if principal is not None:
                    await self._audit_reload(
                        principal,
                        old.model_version,
                        {"outcome": "failed", "model_ref": self.config.model, "error": str(exc)},
                    )
                raise ApiError(
                    409,
                    "conflict",
                    f"reload failed, still serving {old.model_version}: {exc}",
                ) from None
            self._scorer = new
            self.metrics.set_model(new.model_version)
            self.metrics.reloads.labels("ok").inc()
        log.info(
            "model reloaded: %s -> %s",
            old.model_version,
            new.model_version,
            extra={"previous_version": old.model_version, "model_version": new.model_version},
        )
        body = {
            "previous_version": old.model_version,
            "model_version": new.model_version,
            "reloaded": new.model_version != old.model_version,
        }
        if principal is not None:
            await self._audit_reload(principal, new.model_version, {"outcome": "ok", **body})
        return body

    async def _audit_reload(
        self, principal: Principal, version: str, details: dict[str, Any]
    ) -> None:
        """Write the ``model.reload`` audit entry; a failure is logged, never raised.

        The swap has happened (or failed) already: an audit write that fails must not turn
        the answer into an error the caller would retry.
        """
        at = self.clock()

        def work() -> object:
            return self.store.audit(
                principal.actor, "model.reload", f"model:{version}", details, at=at
            )

        try:
            await self._db(work)
        except Exception as exc:
            log.error("could not write the model.reload audit entry: %s", exc, exc_info=exc)

    # -- readiness -------------------------------------------------------------------------

    def _ping_db(self) -> None:
        with self.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def readiness(self, ping_state: Callable[[], None] | None) -> dict[str, Any]:
        """Check the model, the database and the feature state; never raises."""
        checks: dict[str, str] = {"model": "ok"}

        async def probe(name: str, fn: Callable[[], None]) -> None:
            try:
                await asyncio.wait_for(self._db(fn), timeout=2.0)
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"failed: {type(exc).__name__}: {exc}"[:300]

        await probe("database", self._ping_db)
        if ping_state is not None:
            await probe("state_store", ping_state)
        else:
            checks["state_store"] = "ok (in-process)"
        ok = all(v.startswith("ok") for v in checks.values())
        return {
            "status": "ready" if ok else "not_ready",
            "checks": checks,
            "model_version": self._scorer.model_version,
        }
