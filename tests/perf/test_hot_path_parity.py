"""The hot paths' shortcuts must give exactly what the general code gives: tokens signed and verified
with one HMAC (accounts.tokens) against PyJWT, UserOut and TokenPairOut built without re-validation
(accounts.schemas.user_out, accounts.api.pair_body) against ninja's validated answers, the audit INSERT
built once (audit.services.record, record_guarded) against the ORM's rows, and the bearer lookup's
instances made without Model.__init__ (no signal receivers it would skip)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from django.db.models import signals
from django.test import override_settings
from ninja_jwt.exceptions import TokenBackendError

from accounts import schemas, tokens
from accounts import tokens as TOKENS  # the fixture named `tokens` shadows the module in some tests
from accounts.api import pair_body, pair_out
from accounts.models import Profile, Session, User
from audit import services as audit
from audit.models import AuditEvent
from tests.conftest import ApiClient, assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(claims: dict[str, Any], *, key: Any = None, header: dict[str, Any] | None = None) -> str:
    ring_key = tokens.token_backend().keys.current
    return jwt.encode(
        claims,
        key or ring_key.signing_key,
        algorithm="HS256",
        headers=header if header is not None else {"kid": ring_key.kid},
    )


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 60,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "amr": ["pwd"],
        "aud": "custodian",
        "iss": "custodian",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_our_encoding_is_byte_for_byte_pyjwts(db: None) -> None:
    backend = tokens.token_backend()
    payload = {
        "token_type": "refresh",
        "exp": 2_000_000_000,
        "iat": 1_900_000_000,
        "jti": "a" * 32,
        "amr": ["pwd"],
    }
    key = backend.keys.current
    expected = jwt.encode(
        {**payload, "aud": "custodian", "iss": "custodian"},
        key.signing_key,
        algorithm="HS256",
        headers={"kid": key.kid},
    )
    assert backend.encode(payload) == expected


def test_issued_pair_verifies_with_pyjwt_and_carries_ninja_jwts_claims(
    api: ApiClient, tokens: dict[str, Any]
) -> None:
    key = TOKENS.token_backend().keys.current
    for raw, token_type in ((tokens["access"], "access"), (tokens["refresh"], "refresh")):
        claims = jwt.decode(
            raw, key.verifying_key, algorithms=["HS256"], audience="custodian", issuer="custodian"
        )
        assert claims["token_type"] == token_type
        assert {"exp", "iat", "jti", "sub", "sid", "amr", "aud", "iss"} <= set(claims)
        assert jwt.get_unverified_header(raw) == {"alg": "HS256", "kid": key.kid, "typ": "JWT"}


def test_fast_decode_accepts_what_pyjwt_accepts(db: None) -> None:
    claims = _claims()
    assert tokens.token_backend().decode(_sign(claims)) == claims


@pytest.mark.parametrize(
    "change",
    [
        "signature",
        "payload",
        "bad_char",
        "wrong_key",
        "expired",
        "iat_future",
        "nbf_future",
        "wrong_aud",
        "no_aud",
        "wrong_iss",
        "no_iss",
        "exp_not_a_number",
        "not_an_object",
        "four_segments",
    ],
)
def test_fast_decode_refuses_what_pyjwt_refuses(db: None, change: str) -> None:
    now = int(time.time())
    claims = {
        "expired": _claims(exp=now - 1),
        "iat_future": _claims(iat=now + 3600),
        "nbf_future": _claims(nbf=now + 3600),
        "wrong_aud": _claims(aud="someone-else"),
        "no_aud": _claims(aud=None),
        "wrong_iss": _claims(iss="someone-else"),
        "no_iss": _claims(iss=None),
        "exp_not_a_number": _claims(exp="soon"),
    }.get(change, _claims())
    token = _sign(claims, key=b"another-secret-entirely-0123456789" if change == "wrong_key" else None)
    header, payload, signature = token.split(".")
    if change == "signature":
        token = f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    elif change == "payload":
        token = f"{header}.{_b64(json.dumps({**claims, 'sub': str(uuid.uuid4())}).encode())}.{signature}"
    elif change == "bad_char":
        token = f"{header}.{payload}.{signature[:-1]}*"
    elif change == "not_an_object":
        key = tokens.token_backend().keys.current
        signing_input = f"{header}.{_b64(b'[1, 2]')}"
        token = f"{signing_input}.{_b64(hmac.new(key.signing_key, signing_input.encode(), hashlib.sha256).digest())}"
    elif change == "four_segments":
        token = f"{header}.{payload}.{payload}.{signature}"
    with pytest.raises(TokenBackendError):
        tokens.token_backend().decode(token)
    with pytest.raises(Exception):
        jwt.decode(
            token,
            tokens.token_backend().keys.current.verifying_key,
            algorithms=["HS256"],
            audience="custodian",
            issuer="custodian",
        )


@pytest.mark.parametrize(
    ("overrides", "token_type"),
    [({"token_type": "refresh"}, "access"), ({"jti": None}, "access"), ({"exp": None}, "access")],
    ids=["wrong_type", "no_jti", "no_exp"],
)
def test_access_decode_keeps_ninja_jwts_checks(db: None, overrides: dict[str, Any], token_type: str) -> None:
    from accounts import errors

    with pytest.raises(errors.TokenInvalid):
        tokens.access_decode(_sign(_claims(**overrides)))


def test_a_token_in_another_header_form_still_takes_pyjwts_path(db: None) -> None:
    """No kid (tokens from before kids): PyJWT verifies it with each key, as before."""
    claims = _claims()
    assert tokens.access_decode(_sign(claims, header={})).session_id == uuid.UUID(claims["sid"])


def test_rs256_keys_still_sign_and_verify_through_pyjwt(db: None) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with override_settings(JWT_PRIVATE_KEY=pem):
        from accounts import jwks

        jwks.ring.cache_clear()
        tokens.token_backend.cache_clear()
        try:
            raw = tokens.token_backend().encode(_claims())
            assert jwt.get_unverified_header(raw)["alg"] == "RS256"
            assert tokens.access_decode(raw).token_type == "access"
        finally:
            jwks.ring.cache_clear()
            tokens.token_backend.cache_clear()


# --- responses built without re-validation ---------------------------------------------------------------


def test_user_out_is_what_validation_gives(api: ApiClient, user: User, tokens: dict[str, Any]) -> None:
    Profile.objects.filter(user=user).update(
        bio="hi", birth_date="1815-12-10", website="https://ex.org", avatar="avatars/a.webp"
    )
    User.objects.filter(pk=user.pk).update(username="ada", first_name="Ada", mfa_methods=["totp"])
    fresh = User.objects.select_related("profile").get(pk=user.pk)
    built = schemas.user_out(fresh)
    assert built.model_dump() == schemas.UserOut.model_validate(fresh).model_dump()
    assert built.model_dump(mode="json") == schemas.UserOut.model_validate(fresh).model_dump(mode="json")
    body = api.call("get", "/me", token=tokens["access"]).json()
    assert body == json.loads(schemas.UserOut.model_validate(fresh).model_dump_json()) | {
        "date_joined": body[
            "date_joined"
        ]  # ninja's encoder writes milliseconds; pydantic writes microseconds
    }
    assert body["profile"]["avatar_url"].endswith("avatars/a.webp") and body["mfa"] == {
        "enabled": True,
        "methods": ["totp"],
    }


def test_user_out_without_a_profile_says_none(user: User) -> None:
    """(Validation would refuse such a user: every user gets a profile at registration.)"""
    Profile.objects.filter(user=user).delete()
    assert schemas.user_out(User.objects.get(pk=user.pk)).profile is None


def test_pair_body_is_what_validation_gives(tokens: dict[str, Any]) -> None:
    session = Session.objects.get(pk=tokens["session_id"])
    pair = TOKENS.pair_issue(session)
    assert (
        pair_body(session.id, pair).model_dump()
        == schemas.TokenPairOut.model_validate(pair_out(session.id, pair)).model_dump()
    )


# --- the audit INSERT built once -------------------------------------------------------------------------


def _row(event_id: int) -> dict[str, Any]:
    return AuditEvent.objects.filter(pk=event_id).values().get()


def test_record_writes_the_row_the_orm_would(user: User) -> None:
    event = audit.record("test.fast", actor=user, subject=user, details={"a": [1, "x"], "n": None})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert audit.row_hash(stored) == stored.row_hash == event.row_hash
    orm = AuditEvent(**{k: v for k, v in _row(event.pk).items() if k != "id"})
    orm.save(force_insert=True)
    assert {k: v for k, v in _row(orm.pk).items() if k != "id"} == {
        k: v for k, v in _row(event.pk).items() if k != "id"
    }
    assert event._state.adding is False and event._state.db == "default"


def test_record_guarded_writes_the_event_only_when_the_change_happened(
    user: User, tokens: dict[str, Any]
) -> None:
    from django.db import connection

    table, qn = Session._meta.db_table, connection.ops.quote_name
    sql = f"UPDATE {qn(table)} SET {qn('via')} = %s WHERE {qn('id')} = %s RETURNING {qn('id')}"
    sid = Session._meta.pk.get_db_prep_value(uuid.UUID(tokens["session_id"]), connection)  # type: ignore[union-attr]
    missing = Session._meta.pk.get_db_prep_value(uuid.uuid4(), connection)  # type: ignore[union-attr]
    before = AuditEvent.objects.count()
    assert audit.record_guarded(sql, ["x", missing], "test.guarded", actor=user, subject=user) is None
    assert AuditEvent.objects.count() == before
    event = audit.record_guarded(
        sql, ["passkey", sid], "test.guarded", actor=user, subject=user, details={"k": 1}
    )
    assert event is not None and Session.objects.get(pk=tokens["session_id"]).via == "passkey"
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.actor_id, stored.details) == ("test.guarded", user.pk, {"k": 1})
    assert audit.row_hash(stored) == stored.row_hash


def test_a_refresh_writes_one_verifiable_event_and_a_lost_swap_none(
    api: ApiClient, tokens: dict[str, Any], user: Any
) -> None:
    r = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert r.status_code == 200
    events = list(AuditEvent.objects.filter(action="session.refreshed"))
    assert len(events) == 1 and events[0].details == {"session_id": tokens["session_id"]}
    # The user refreshed their own session: actor and subject are the user, known only from the token.
    assert (events[0].actor_type, events[0].actor_id, events[0].subject_id) == ("user", user.pk, user.pk)
    assert audit.row_hash(events[0]) == events[0].row_hash
    assert_error(api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "token_invalid")
    assert AuditEvent.objects.filter(action="session.refreshed").count() == 1
    audit.events_seal(lag_seconds=0)
    report = audit.chain_verify()
    assert report.broken_id is None and report.sealed >= 2, report


# --- what the shortcuts skip exists nowhere --------------------------------------------------------------


def test_no_receivers_for_what_the_shortcuts_skip() -> None:
    for model in (Session, User, Profile):
        assert not signals.pre_init.has_listeners(model) and not signals.post_init.has_listeners(model)
    for signal in (signals.pre_save, signals.post_save):
        assert not signal.has_listeners(AuditEvent)
