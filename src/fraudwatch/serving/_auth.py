"""API-key authentication: ``Authorization: Bearer <key>``, scopes score / feedback / admin.

Keys are verified by the store (which keeps only their SHA-256 digest). A verified key is
trusted for ``key_cache_seconds`` without another database lookup, so revoking a key takes
effect within that delay; failed lookups are cached for a shorter time to spare the database.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from fraudwatch.serving._errors import ApiError

__all__ = ["KeyCache", "KeyRecord", "KeyVerifier", "Principal"]

_MAX_ENTRIES = 10_000
_NEGATIVE_TTL_S = 2.0


class KeyRecord(Protocol):
    """What the store returns for a valid key (``fraudwatch.store.ApiKey``)."""

    @property
    def name(self) -> str: ...

    @property
    def prefix(self) -> str: ...

    def allows(self, scope: str) -> bool:
        """Whether the key grants ``scope``."""
        ...


class KeyVerifier(Protocol):
    """The one store method authentication needs."""

    def verify_api_key(self, plaintext: str) -> KeyRecord | None:
        """Return the key's record if it exists and is not revoked, else ``None``."""
        ...


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the audit ``actor`` and the key's scopes check."""

    actor: str
    key: KeyRecord | None

    def allows(self, scope: str) -> bool:
        """Whether this caller may use ``scope`` (everything when auth is off)."""
        return self.key is None or self.key.allows(scope)


ANONYMOUS = Principal(actor="anonymous (auth disabled)", key=None)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"www-authenticate": "Bearer"})


class KeyCache:
    """Verify bearer tokens through the store, caching results for a short time.

    Parameters
    ----------
    verifier:
        The store (``verify_api_key``).
    ttl_s:
        How long a valid key is trusted without a lookup (0 looks up every request).
    timer:
        Monotonic clock in seconds.
    executor:
        Where the blocking store lookup runs (``None``: the loop's default executor).
    """

    def __init__(
        self,
        verifier: KeyVerifier,
        *,
        ttl_s: float,
        timer: Callable[[], float],
        executor: Executor | None = None,
    ) -> None:
        self.verifier = verifier
        self.ttl_s = ttl_s
        self.timer = timer
        self.executor = executor
        self._cache: OrderedDict[bytes, tuple[Principal | None, float]] = OrderedDict()

    def clear(self) -> None:
        """Forget every cached verification (e.g. after revoking a key)."""
        self._cache.clear()

    async def authenticate(self, authorization: str | None) -> Principal:
        """Return the caller for an ``Authorization`` header value.

        Raises
        ------
        ApiError
            401 when the header is missing or malformed, or the key is unknown or revoked.
        """
        if not authorization:
            raise _unauthorized(
                "missing API key: send the header 'Authorization: Bearer <key>' "
                "(create a key with `fraudwatch apikey create --scope score`)"
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized(
                "malformed Authorization header: expected 'Authorization: Bearer <key>'"
            )
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        now = self.timer()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            principal = hit[0]
        else:
            loop = asyncio.get_running_loop()
            record = await loop.run_in_executor(self.executor, self.verifier.verify_api_key, token)
            principal = (
                None
                if record is None
                else Principal(actor=f"key:{record.prefix} ({record.name})", key=record)
            )
            ttl = self.ttl_s if record is not None else min(self.ttl_s, _NEGATIVE_TTL_S)
            if ttl > 0:
                self._cache[digest] = (principal, now + ttl)
                self._cache.move_to_end(digest)
                while len(self._cache) > _MAX_ENTRIES:
                    self._cache.popitem(last=False)
        if principal is None:
            raise _unauthorized(
                "invalid or revoked API key; check the key or create a new one with "
                "`fraudwatch apikey create`"
            )
        return principal


def check_scope(principal: Principal, scope: str, what: str) -> None:
    """Raise 403 unless ``principal`` has ``scope``.

    Raises
    ------
    ApiError
        403 naming the missing scope and the endpoint.
    """
    if not principal.allows(scope):
        raise ApiError(
            403,
            "forbidden",
            f"this API key ({principal.actor}) lacks the {scope!r} scope needed for {what}; "
            f"use a key created with `fraudwatch apikey create --scope {scope}`",
        )
