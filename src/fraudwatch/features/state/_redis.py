"""The Redis state store: one server-side script per transaction, state only.

Each :meth:`RedisStateStore.execute` request becomes one ``EVALSHA`` of
:data:`~fraudwatch.features.state._lua.STEP` that returns every entity's state and records the
transaction atomically, so concurrent writers (threads or processes) lose nothing and a
transaction costs one network round trip. Several requests go in one pipeline (still one
script each, run in order). Memory stays bounded: events and labels older than the entity's
retention are removed on every write, last-seen values older than the horizon too, and every
key carries a TTL (retention or horizon) so idle entities disappear.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, cast

import polars as pl

from fraudwatch.errors import PartialStateError, StateStoreError
from fraudwatch.features._dd import zero_prefix
from fraudwatch.features._plan import EntitySpec, StatePlan
from fraudwatch.features.state._base import EntityState, Field, States, TxRequest
from fraudwatch.features.state._lua import LABEL, LOAD_EVENTS, LOAD_HASHES, STEP
from fraudwatch.features.state._snapshot import field_column

if TYPE_CHECKING:
    from redis.commands.core import Script
    from redis.typing import EncodableT, FieldT

    from fraudwatch.features.state._snapshot import StateSnapshot

__all__ = ["RedisStateStore"]

log = logging.getLogger(__name__)

SEP = "\x1f"  # between the fields of a stored event
RS = "\x1e"  # between request fields and answer sections
GS = "\x1d"  # between entities of an answer
FS = "\x1c"  # between items of an answer section
_CONTROL = str.maketrans({SEP: "?", RS: "?", GS: "?", FS: "?"})
_TTL_SLACK_MS = 3_600_000
_CHUNK = 2000


def _ms(us: int) -> str:
    return str(us // 1000 + _TTL_SLACK_MS)


class _SpecArgs:
    """The static part of one entity's request, written once per plan."""

    __slots__ = ("head", "spec", "zero")

    def __init__(self, si: int, spec: EntitySpec) -> None:
        self.spec = spec
        head = [
            str(si),
            str(spec.event_window_us),
            str(spec.retention_us),
            str(spec.horizon_us),
            str(spec.age_reset_us),
            str(len(spec.count_ranges)),
        ]
        for a, b in spec.count_ranges:
            head += [str(a), str(b)]
        if spec.label_range is not None:
            head += [str(spec.label_range[0]), str(spec.label_range[1])]
        else:
            head += ["", ""]
        head.append("1" if spec.meta else "0")
        head += [_ms(spec.retention_us), _ms(max(spec.retention_us, spec.horizon_us))]
        head.append(str(len(spec.sum_windows)))
        head += [str(w) for w in spec.sum_windows]
        head.append(str(2 * len(spec.sums)))
        self.head = RS.join(head)
        self.zero = zero_prefix(spec.sums)

    @property
    def ttls(self) -> tuple[int, int]:
        """TTLs (ms) of event keys and of last-seen keys."""
        spec = self.spec
        return int(_ms(spec.retention_us)), int(_ms(max(spec.retention_us, spec.horizon_us)))


def _encode(value: Field) -> str:
    """A stored text value (``""`` for null; separators replaced)."""
    return "" if value is None else str(value).translate(_CONTROL)


def _decode_columns(members: list[str], n_fields: int) -> list[list[str | None]]:
    """The field columns of stored event members (``seq SEP sums SEP field SEP field...``).

    Splitting and transposing run in C (``map``/``zip``); only a column holding empty (null)
    values takes a Python-level pass.
    """
    if not members:
        return [[] for _ in range(n_fields)]
    rows = list(map(str.split, members, repeat(SEP)))
    columns = list(zip(*rows, strict=True))[2 : 2 + n_fields]
    return [[t or None for t in c] if "" in c else list(c) for c in columns]


def _text(column: pl.Expr) -> pl.Expr:
    """:func:`_encode` of a text column."""
    return column.cast(pl.String).fill_null("").str.replace_all("[\x1c-\x1f]", "?")


def _chunks(records: pl.DataFrame) -> Iterator[tuple[str, int]]:
    """The ``record`` texts of ``records`` joined into loader payloads of about :data:`_CHUNK`
    items (``n`` per record), with their item counts."""
    chunk: list[str] = []
    count = 0
    for n, record in records.select("n", "record").iter_rows():
        chunk.append(record)
        count += n
        if count >= _CHUNK:
            yield "".join(chunk), count
            chunk, count = [], 0
    if chunk:
        yield "".join(chunk), count


def _hash_records(frame: pl.DataFrame, key: pl.Expr, fields: list[pl.Expr]) -> pl.DataFrame:
    """:data:`LOAD_HASHES` records of ``frame``'s rows: ``key`` and its ``field RS value``
    pairs (a null pair is left out), one item each (``n``)."""
    return frame.select(
        n=pl.lit(1),
        record=pl.concat_str(key, *fields, pl.lit(GS), separator=RS, ignore_nulls=True),
    )


def _sums_text(sums: Sequence[float]) -> str:
    """Running sums as the script stores them (exact round trip)."""
    return ",".join(map(repr, sums))


def _parse_sums(text: str, zero: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(map(float, text.split(","))) if text else zero


def _items(section: str) -> list[str]:
    return section.split(FS) if section else []


class RedisStateStore:
    """Entity state in Redis, shared by every process that points at it.

    Parameters
    ----------
    url:
        A ``redis://`` URL.
    prefix:
        Prefix of every key (keeps several deployments or test runs apart).

    Raises
    ------
    StateStoreError
        Redis cannot be reached when a request is made.
    """

    def __init__(self, url: str, prefix: str = "fw:") -> None:
        import redis

        self.url = url
        self.prefix = prefix
        self._redis = redis
        self._client = redis.Redis.from_url(url, decode_responses=True)
        self._step = self._client.register_script(STEP)
        self._label = self._client.register_script(LABEL)
        self._load_events = self._client.register_script(LOAD_EVENTS)
        self._load_hashes = self._client.register_script(LOAD_HASHES)
        self._args: dict[str, list[_SpecArgs]] = {}

    def __repr__(self) -> str:
        return f"RedisStateStore(url={self.url!r}, prefix={self.prefix!r})"

    # ------------------------------------------------------------------ keys
    def _base(self, plan: StatePlan, spec: EntitySpec, key: str) -> str:
        return f"{self.prefix}{plan.id}:{spec.entity}:{key.translate(_CONTROL)}"

    def _index_key(self, plan: StatePlan, tx_id: str) -> str:
        return f"{self.prefix}{plan.id}:tx:{tx_id.translate(_CONTROL)}"

    def _spec_args(self, plan: StatePlan) -> list[_SpecArgs]:
        got = self._args.get(plan.id)
        if got is None:
            got = self._args[plan.id] = [_SpecArgs(i, s) for i, s in enumerate(plan.specs)]
        return got

    def _payload(self, plan: StatePlan, req: TxRequest) -> str:
        """The request as one string for the script."""
        ittl = plan.label_retention_us
        parts = [
            str(req.now),
            "1" if req.read else "0",
            "1" if req.write else "0",
            req.tx_id.translate(_CONTROL),
            "" if req.label is None else str(req.label),
            str(req.label_known_at),
            str(ittl // 1000 + _TTL_SLACK_MS) if ittl else "0",
            self._index_key(plan, req.tx_id) if ittl else "",
        ]
        body: list[str] = []
        present = 0
        for sa, er in zip(self._spec_args(plan), req.entities, strict=True):
            if er.key is None:
                continue
            present += 1
            body.append(self._base(plan, sa.spec, er.key))
            body.append(sa.head)
            body.append(SEP.join([_encode(v) for v in er.fields]) if req.write else "")
            body.append(_sums_text(er.sums) if req.write else "")
            loc = er.location
            if loc is not None:
                body += ["1", repr(float(loc[0])), repr(float(loc[1]))]
            else:
                body += ["0", "", ""]
            body.append(str(len(er.seen)))
            body += [_encode(v) for v in er.seen]
        parts.append(str(present))
        parts += body
        parts.append("")
        return RS.join(parts)

    def _parse(self, plan: StatePlan, req: TxRequest, reply: str) -> States:
        states: States = []
        blocks = iter(reply.split(GS))
        for sa, er in zip(self._spec_args(plan), req.entities, strict=True):
            if er.key is None:
                states.append(None)
                continue
            ev_s, counts_s, fr_s, meta_s, seen_s, sums_s = next(blocks).split(RS)
            ev = _items(ev_s)
            ts = list(map(int, map(float, ev[1::2])))
            cols = cast(list[list[Field]], _decode_columns(ev[0::2], len(sa.spec.fields)))
            zero = sa.zero
            sums: list[Sequence[float]] = [_parse_sums(t, zero) for t in _items(sums_s)]
            fr = _items(fr_s)
            frauds = [(int(float(fr[i])), int(float(fr[i + 1]))) for i in range(0, len(fr), 2)]
            first = last = None
            loc = None
            meta = _items(meta_s)
            if meta:
                first = int(float(meta[0])) if meta[0] else None
                last = int(float(meta[1])) if meta[1] else None
                if meta[2]:
                    loc = (int(float(meta[2])), float(meta[3]), float(meta[4]))
            seen = [int(float(v)) if v else None for v in seen_s.split(FS)] if er.seen else []
            counts = [int(c) for c in _items(counts_s)]
            states.append(EntityState(ts, cols, sums, counts, frauds, first, last, loc, seen))
        return states

    # ------------------------------------------------------------------ contract
    def execute(self, plan: StatePlan, requests: Sequence[TxRequest]) -> list[States | None]:
        """Apply ``requests`` in order, one script each (pipelined when several).

        Raises
        ------
        PartialStateError
            Some scripts of a pipeline failed on the server (the others ran): it carries
            each request's read or its own error.
        StateStoreError
            The call failed as a whole (the server is unreachable, the connection dropped).
        """
        try:
            if len(requests) == 1:
                replies = [self._step(args=[self._payload(plan, requests[0])])]
            else:
                pipe = self._client.pipeline(transaction=False)
                for req in requests:
                    self._step(args=[self._payload(plan, req)], client=pipe)
                # every script runs whatever the others do: report each one's own outcome
                replies = pipe.execute(raise_on_error=False)
        except self._redis.RedisError as exc:
            raise StateStoreError(
                f"Redis state store at {self.url} failed: {exc}; check that the server is "
                "running and reachable"
            ) from exc
        results: list[States | StateStoreError | None] = []
        failed: list[Exception] = []
        for req, reply in zip(requests, replies, strict=True):
            if isinstance(reply, Exception):
                failed.append(reply)
                results.append(
                    StateStoreError(
                        f"Redis state store at {self.url} failed on transaction "
                        f"{req.tx_id!r}: {reply}"
                    )
                )
            else:
                results.append(self._parse(plan, req, reply) if req.read else None)
        if not failed:
            return cast(list[States | None], results)
        raise PartialStateError(
            f"Redis state store at {self.url}: {len(failed)} of {len(requests)} transactions "
            f"failed ({failed[0]}); the others were recorded",
            results,
        )

    def add_label(self, plan: StatePlan, transaction_id: str, label: int, known_at: int) -> bool:
        """Record a label through the transaction index (one script)."""
        try:
            found = self._label(
                keys=[self._index_key(plan, transaction_id)],
                args=[str(label), str(known_at), transaction_id],
            )
        except self._redis.RedisError as exc:
            raise StateStoreError(f"Redis state store at {self.url} failed: {exc}") from exc
        return bool(found)

    def _event_records(self, plan: StatePlan, snapshot: StateSnapshot, si: int) -> pl.DataFrame:
        """Spec ``si``'s snapshot events as :data:`LOAD_EVENTS` records, one per entity, with
        their event counts (``n``).

        The members are built column-wise (polars), byte for byte what :data:`STEP` stores,
        except that floats are written in their shortest exact form, which reads back the same.
        """
        spec = plan.specs[si]
        df = snapshot.events(si)
        sums = snapshot.event_sums(si, df)
        if sums.shape[1]:
            text = pl.DataFrame({str(j): sums[:, j] for j in range(sums.shape[1])}).select(
                pl.concat_str(pl.all().cast(pl.String), separator=",")
            )
            sums_text = text.to_series()
        else:
            sums_text = pl.repeat("", df.height + 1, dtype=pl.String, eager=True)
        fields = [_text(pl.col(field_column(f))) for f in spec.fields] or [pl.lit("")]
        return (
            df.select("key", "ts", *(field_column(f) for f in spec.fields))
            .with_columns(before=sums_text.head(df.height), after=sums_text.tail(df.height))
            .with_columns(seq=pl.int_range(1, pl.len() + 1).over("key"))
            .select(
                "key",
                "after",
                item=pl.concat_str(
                    pl.col("ts").cast(pl.String),
                    pl.concat_str(
                        pl.col("seq").cast(pl.String).str.zfill(12),
                        pl.col("before"),
                        *fields,
                        separator=SEP,
                    ),
                    separator=RS,
                ),
            )
            .group_by("key", maintain_order=True)
            .agg(n=pl.len(), after=pl.col("after").last(), items=pl.col("item").str.join(RS))
            .select(
                "n",
                record=pl.concat_str(
                    pl.lit(self._base(plan, spec, "")) + _text(pl.col("key")),
                    pl.col("n").cast(pl.String),
                    pl.col("after"),
                    pl.col("items"),
                    pl.lit(GS),
                    separator=RS,
                ),
            )
        )

    def _meta_records(self, plan: StatePlan, snapshot: StateSnapshot, si: int) -> pl.DataFrame:
        """Spec ``si``'s last-seen facts (first, last, last location) as hash records."""
        located = pl.col("loc_ts").is_not_null()
        places = (("llt", "loc_ts"), ("lla", "loc_lat"), ("llo", "loc_lon"))
        return _hash_records(
            snapshot.tables["meta"].filter(pl.col("spec") == si),
            pl.lit(self._base(plan, plan.specs[si], "")) + _text(pl.col("key")) + ":m",
            [
                pl.concat_str(pl.lit("first"), pl.col("first").cast(pl.String), separator=RS),
                pl.concat_str(pl.lit("last"), pl.col("last").cast(pl.String), separator=RS),
                *(
                    pl.when(located).then(
                        pl.concat_str(pl.lit(name), pl.col(col).cast(pl.String), separator=RS)
                    )
                    for name, col in places
                ),
            ],
        )

    def _index_records(self, plan: StatePlan, snapshot: StateSnapshot) -> pl.DataFrame:
        """The transaction index (time, and where each labelled entity keeps its labels) as
        hash records, as :data:`STEP` writes it."""
        fields = [pl.concat_str(pl.lit("ts"), pl.col("ts").cast(pl.String), separator=RS)]
        for si, (spec, sa) in enumerate(zip(plan.specs, self._spec_args(plan), strict=True)):
            if not spec.labels:
                continue
            base = pl.lit(self._base(plan, spec, "")) + _text(pl.col(f"k{si}"))
            target = pl.concat_str(base + ":f", base + ":k", pl.lit(str(sa.ttls[0])), separator=SEP)
            fields.append(pl.concat_str(pl.lit(f"L{si}"), target, separator=RS))
        return _hash_records(
            snapshot.tables["index"],
            pl.lit(self._index_key(plan, "")) + _text(pl.col("tx_id")),
            fields,
        )

    def load_snapshot(self, snapshot: StateSnapshot) -> None:
        """Replace the snapshot's plan state by its content (pipelined, in chunks)."""
        plan = snapshot.plan
        self.clear(plan)
        args = self._spec_args(plan)
        pipe = self._client.pipeline(transaction=False)
        pending = 0

        def flush(force: bool = False) -> None:
            nonlocal pending, pipe
            if pending and (force or pending >= _CHUNK):
                pipe.execute()
                pipe = self._client.pipeline(transaction=False)
                pending = 0

        def load(script: Script, head: list[EncodableT], records: pl.DataFrame) -> None:
            """Queue ``records`` (``n``, ``record``) as payloads of a loader script."""
            nonlocal pending
            for payload, count in _chunks(records):
                script(args=[*head, payload], client=pipe)
                pending += count
                flush()

        try:
            for si, spec in enumerate(plan.specs):
                ttl_e, ttl_m = args[si].ttls
                load(self._load_events, [ttl_e, ttl_m], self._event_records(plan, snapshot, si))
                load(self._load_hashes, [ttl_m], self._meta_records(plan, snapshot, si))
                seen: dict[str, dict[str, int]] = {}
                for key, slot, value, ts in snapshot.iter_seen(si):
                    seen.setdefault(key, {})[f"{slot + 1}{SEP}{_encode(value)}"] = ts
                for key, values in seen.items():
                    skey = f"{self._base(plan, spec, key)}:s"
                    pipe.zadd(skey, values)
                    pipe.pexpire(skey, ttl_m)
                    pending += 2 + len(values)
                    flush()
                del seen
                frauds: dict[str, tuple[dict[str, int], dict[str, str]]] = {}
                for key, tx_id, ts, known in snapshot.iter_frauds(si):
                    by_ts, by_known = frauds.setdefault(key, ({}, {}))
                    by_ts[tx_id] = ts
                    by_known[tx_id] = str(known)
                for key, (by_ts, by_known) in frauds.items():
                    base = self._base(plan, spec, key)
                    pipe.zadd(base + ":f", by_ts)
                    pipe.hset(base + ":k", mapping=cast("dict[FieldT, EncodableT]", by_known))
                    pipe.pexpire(base + ":f", ttl_e)
                    pipe.pexpire(base + ":k", ttl_e)
                    pending += 4 + 2 * len(by_ts)
                    flush()
            ittl = plan.label_retention_us // 1000 + _TTL_SLACK_MS
            load(self._load_hashes, [ittl], self._index_records(plan, snapshot))
            flush(force=True)
        except self._redis.RedisError as exc:
            raise StateStoreError(f"Redis state store at {self.url} failed: {exc}") from exc
        log.info("loaded snapshot into %s (plan %s): %s", self.url, plan.id, snapshot.summary())

    def clear(self, plan: StatePlan) -> None:
        """Delete every key of ``plan`` under this prefix."""
        try:
            batch: list[str] = []
            for key in self._client.scan_iter(match=f"{self.prefix}{plan.id}:*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    self._client.delete(*batch)
                    batch = []
            if batch:
                self._client.delete(*batch)
        except self._redis.RedisError as exc:
            raise StateStoreError(f"Redis state store at {self.url} failed: {exc}") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # ------------------------------------------------------------------ inspection
    def key_count(self, plan: StatePlan) -> int:
        """Number of keys held for ``plan`` (for memory checks)."""
        return sum(1 for _ in self._client.scan_iter(match=f"{self.prefix}{plan.id}:*", count=1000))

    def event_count(self, plan: StatePlan) -> int:
        """Number of events held for ``plan``."""
        total = 0
        for key in self._client.scan_iter(match=f"{self.prefix}{plan.id}:*:e", count=1000):
            total += int(self._client.zcard(key))
        return total
