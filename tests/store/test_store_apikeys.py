"""Contract tests of API keys: hashed storage, verification, scopes, revocation."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fraudwatch.errors import ConfigError, NotFoundError
from fraudwatch.store import Store, parse_scopes
from fraudwatch.store._apikeys import generate_key, hash_key, key_prefix
from fraudwatch.store._schema import api_keys


def test_created_key_verifies_with_its_scopes(store: Store) -> None:
    """Check that a new key verifies and carries its name and scopes."""
    key_id, plaintext = store.create_api_key("checkout", ["feedback", "score"])
    key = store.verify_api_key(plaintext)
    assert key is not None
    assert (key.id, key.name, key.scopes) == (key_id, "checkout", ("score", "feedback"))
    assert plaintext.startswith(key.prefix + "_")


def test_only_the_digest_is_stored(store: Store) -> None:
    """Check that the database holds the SHA-256 digest and never the key."""
    _, plaintext = store.create_api_key("checkout", ["score"])
    with store.engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
    assert plaintext not in {str(v) for v in row}
    assert row.hash == hash_key(plaintext)
    secret = plaintext.split("_", 2)[2]
    assert secret not in row.hash


def test_wrong_key_with_a_real_prefix_is_refused(store: Store) -> None:
    """Check that a key whose prefix exists but whose secret differs does not verify."""
    _, plaintext = store.create_api_key("checkout", ["score"])
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert store.verify_api_key(tampered) is None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    presented=st.one_of(
        st.text(max_size=80),
        st.from_regex(r"fw_[0-9a-f]{12}_[A-Za-z0-9_-]{0,50}", fullmatch=True),
    )
)
def test_arbitrary_strings_never_verify(store: Store, presented: str) -> None:
    """Check that any string that is not an issued key is refused without an exception."""
    assert store.verify_api_key(presented) is None


def test_revoked_key_stops_verifying(store: Store) -> None:
    """Check that a revoked key no longer verifies and shows its revocation time."""
    key_id, plaintext = store.create_api_key("old", ["admin"])
    revoked = store.revoke_api_key(key_id, actor="ops")
    assert revoked.revoked_at is not None
    assert not revoked.active
    assert store.verify_api_key(plaintext) is None


def test_revoking_twice_keeps_the_first_revocation(store: Store) -> None:
    """Check that revoking again changes nothing and is audited once."""
    key_id, _ = store.create_api_key("old", ["score"])
    first = store.revoke_api_key(key_id, actor="ops")
    again = store.revoke_api_key(key_id, actor="ops")
    assert again == first
    assert len(store.list_audit(action="apikey.revoke").items) == 1


def test_revoke_unknown_key_raises_not_found(store: Store) -> None:
    """Check that revoking a key id that does not exist raises NotFoundError."""
    with pytest.raises(NotFoundError, match="API key 4242 does not exist"):
        store.revoke_api_key(4242, actor="ops")


def test_key_creation_and_revocation_are_audited(store: Store) -> None:
    """Check that create and revoke write audit entries without the key itself."""
    key_id, plaintext = store.create_api_key("svc", ["score"], actor="cli:root")
    store.revoke_api_key(key_id, actor="cli:root")
    entries = store.list_audit(target=f"apikey:{key_id}").items
    assert [e.action for e in entries] == ["apikey.revoke", "apikey.create"]
    assert all(plaintext not in str(e.details) for e in entries)


def test_admin_scope_implies_every_scope(store: Store) -> None:
    """Check that an admin key allows score and feedback, a score key only score."""
    _, admin = store.create_api_key("admin", ["admin"])
    _, scorer = store.create_api_key("scorer", ["score"])
    admin_key, score_key = store.verify_api_key(admin), store.verify_api_key(scorer)
    assert admin_key is not None
    assert score_key is not None
    assert admin_key.allows("score")
    assert admin_key.allows("feedback")
    assert score_key.allows("score")
    assert not score_key.allows("feedback")


def test_list_api_keys_hides_revoked_on_request(store: Store) -> None:
    """Check that listing can leave out revoked keys."""
    a, _ = store.create_api_key("a", ["score"])
    b, _ = store.create_api_key("b", ["score"])
    store.revoke_api_key(a, actor="ops")
    assert [k.id for k in store.list_api_keys()] == [a, b]
    assert [k.id for k in store.list_api_keys(include_revoked=False)] == [b]


def test_keys_are_drawn_from_the_token_source(db_url: str) -> None:
    """Check that key material comes from the injected randomness, never from a fixed seed."""
    from fraudwatch.store import open_store

    counter = itertools.count()

    def token_bytes(n: int) -> bytes:
        return bytes([next(counter) % 256] * n)

    with open_store(db_url, token_bytes=token_bytes) as store:
        _, first = store.create_api_key("a", ["score"])
        _, second = store.create_api_key("b", ["score"])
    assert first.startswith("fw_000000000000_")
    assert second.startswith("fw_020202020202_")


def test_prefix_collision_draws_a_new_key(db_url: str) -> None:
    """Check that a prefix already taken is redrawn instead of failing."""
    from fraudwatch.store import open_store

    draws = iter([b"\x01" * 6, b"\x02" * 32, b"\x01" * 6, b"\x03" * 32, b"\x04" * 6, b"\x05" * 32])
    with open_store(db_url, token_bytes=lambda n: next(draws)) as store:
        _, first = store.create_api_key("a", ["score"])
        _, second = store.create_api_key("b", ["score"])
        assert store.verify_api_key(second) is not None
    assert key_prefix(first) == "fw_010101010101"
    assert key_prefix(second) == "fw_040404040404"


@pytest.mark.parametrize(
    ("scopes", "match"),
    [
        (["score", "superuser"], "unknown API key scope.*'superuser'.*score, feedback, admin"),
        ([], "needs at least one scope"),
    ],
)
def test_bad_scopes_are_refused(store: Store, scopes: list[str], match: str) -> None:
    """Check that unknown or missing scopes are refused, naming the allowed ones."""
    with pytest.raises(ConfigError, match=match):
        store.create_api_key("x", scopes)
    assert store.list_api_keys() == []


@given(st.lists(st.sampled_from(["score", "feedback", "admin", " Score "]), min_size=1))
def test_parse_scopes_is_canonical(scopes: list[str]) -> None:
    """Check that scopes are deduplicated, normalised and in canonical order."""
    parsed = parse_scopes(scopes)
    assert len(parsed) == len(set(parsed))
    assert list(parsed) == [s for s in ("score", "feedback", "admin") if s in parsed]
    assert set(parsed) == {s.strip().lower() for s in scopes}


def test_generated_keys_have_a_parseable_prefix() -> None:
    """Check that the prefix of a generated key is recovered from the key alone."""
    import secrets

    prefix, plaintext = generate_key(secrets.token_bytes)
    assert key_prefix(plaintext) == prefix
    assert len(plaintext) > 50
