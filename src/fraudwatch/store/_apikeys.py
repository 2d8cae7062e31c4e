"""API keys: generation, hashing and scope checks.

A key looks like ``fw_3f9a0c12d4e5_<43 url-safe characters>``: the public *prefix*
(``fw_`` + 12 hex digits) is stored in clear to find the key's row, the whole key is stored
only as its SHA-256 digest.

Why SHA-256 and not a slow password hash: the key carries 256 bits from
:func:`secrets.token_bytes`, so guessing it from the digest is out of reach however fast the
hash is; slow hashes (scrypt, bcrypt, PBKDF2) protect *low-entropy* passwords and would add
milliseconds to every API request. This is the scheme GitHub, Stripe and PyPI use for tokens.
Digests are compared with :func:`hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable

from fraudwatch.errors import ConfigError
from fraudwatch.store._schema import SCOPES

__all__ = [
    "KEY_PREFIX",
    "TokenSource",
    "digest_matches",
    "generate_key",
    "hash_key",
    "key_prefix",
    "parse_scopes",
]

KEY_PREFIX = "fw_"
_PREFIX_BYTES = 6
_SECRET_BYTES = 32
_PREFIX_LEN = len(KEY_PREFIX) + 2 * _PREFIX_BYTES

TokenSource = Callable[[int], bytes]
"""Where randomness comes from: ``secrets.token_bytes`` in production."""


def generate_key(token_bytes: TokenSource) -> tuple[str, str]:
    """Make a new key; return ``(prefix, plaintext)``.

    >>> prefix, key = generate_key(lambda n: bytes(range(n)))
    >>> prefix, key.startswith(prefix + "_")
    ('fw_000102030405', True)
    """
    prefix = KEY_PREFIX + token_bytes(_PREFIX_BYTES).hex()
    secret = base64.urlsafe_b64encode(token_bytes(_SECRET_BYTES)).decode("ascii").rstrip("=")
    return prefix, f"{prefix}_{secret}"


def key_prefix(plaintext: str) -> str | None:
    """The lookup prefix of a presented key, or ``None`` if it is not shaped like our keys.

    >>> key_prefix("fw_000102030405_abc"), key_prefix("Bearer nonsense")
    ('fw_000102030405', None)
    """
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) <= _PREFIX_LEN + 1:
        return None
    prefix = plaintext[:_PREFIX_LEN]
    if plaintext[_PREFIX_LEN] != "_":
        return None
    try:
        bytes.fromhex(prefix[len(KEY_PREFIX) :])
    except ValueError:
        return None
    return prefix


def hash_key(plaintext: str) -> str:
    """The stored digest of a key (hex SHA-256 of its UTF-8 bytes)."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def digest_matches(plaintext: str, stored_digest: str) -> bool:
    """Compare a presented key with a stored digest in constant time."""
    return hmac.compare_digest(hash_key(plaintext), stored_digest)


def parse_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Validate scopes; return them deduplicated in canonical order.

    Raises
    ------
    ConfigError
        No scope given, or a scope other than ``score``, ``feedback``, ``admin``.

    Examples
    --------
    >>> parse_scopes(["feedback", "score", "feedback"])
    ('score', 'feedback')
    """
    given = [s.strip().lower() for s in scopes]
    unknown = sorted({s for s in given if s not in SCOPES})
    if unknown:
        raise ConfigError(
            f"unknown API key scope(s): {', '.join(repr(s) for s in unknown)}; "
            f"allowed scopes are {', '.join(SCOPES)} (admin implies all)"
        )
    if not given:
        raise ConfigError(f"an API key needs at least one scope; choose from {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in given)
