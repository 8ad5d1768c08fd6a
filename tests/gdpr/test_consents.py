from __future__ import annotations

import csv
import io

import pytest
from django.core import mail

from gdpr.models import ConsentRecord
from tests.conftest import actions, assert_error
from tests.gdpr.helpers import body, token_from, verify_zip


def _put(api, tokens, purpose, payload):
    return api.call("put", f"/me/consents/{purpose}", payload, token=tokens["access"])


def test_current_state_for_every_purpose(api, user, tokens, settings):
    r = api.call("get", "/me/consents", token=tokens["access"])
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["purpose"] for i in items] == settings.GDPR_CONSENT_PURPOSES
    assert all(i["granted"] is False and i["policy_version"] is None for i in items)


def test_history_is_append_only_and_latest_wins(api, user, tokens):
    assert _put(api, tokens, "marketing_email", {"granted": True}).json()["granted"] is True
    # The same state again under the same policy appends nothing.
    assert _put(api, tokens, "marketing_email", {"granted": True}).status_code == 200
    r = _put(api, tokens, "marketing_email", {"granted": False})
    assert r.status_code == 200 and r.json()["granted"] is False
    _put(api, tokens, "product_analytics", {"granted": True})
    history = api.call("get", "/me/consents/history", token=tokens["access"]).json()
    assert history["count"] == 3
    assert [(h["purpose"], h["granted"]) for h in history["items"]] == [
        ("product_analytics", True),
        ("marketing_email", False),
        ("marketing_email", True),
    ]
    current = {
        i["purpose"]: i["granted"]
        for i in api.call("get", "/me/consents", token=tokens["access"]).json()["items"]
    }
    assert current == {"marketing_email": False, "product_analytics": True, "third_party_sharing": False}
    assert actions(subject_id=user.pk)[-3:] == ["consent.granted", "consent.withdrawn", "consent.granted"]

    record = ConsentRecord.objects.order_by("id").first()
    record.granted = False
    with pytest.raises(RuntimeError):
        record.save()
    with pytest.raises(RuntimeError):
        record.delete()
    assert ConsentRecord.objects.order_by("id").first().granted is True


def test_new_policy_version_appends(api, user, tokens, settings):
    _put(api, tokens, "marketing_email", {"granted": True})
    settings.GDPR_CONSENT_POLICY_VERSION = "2027-01"
    r = _put(api, tokens, "marketing_email", {"granted": True})
    assert r.json()["policy_version"] == "2027-01"
    assert list(ConsentRecord.objects.order_by("id").values_list("policy_version", flat=True)) == [
        "2026-01",
        "2027-01",
    ]


def test_export_contains_the_ledger(api, user, tokens):
    _put(api, tokens, "marketing_email", {"granted": True})
    _put(api, tokens, "marketing_email", {"granted": False})
    api.call("post", "/gdpr/requests", {"type": "export"}, token=tokens["access"])
    token = token_from(mail.outbox[-1].body)
    _, files = verify_zip(body(api.call("get", f"/gdpr/exports/{token}")))
    rows = list(csv.DictReader(io.StringIO(files["consents.csv"].decode())))
    assert [(r["purpose"], r["granted"], r["policy_version"]) for r in rows] == [
        ("marketing_email", "True", "2026-01"),
        ("marketing_email", "False", "2026-01"),
    ]


def test_unknown_purpose_is_404(api, user, tokens):
    assert_error(_put(api, tokens, "sell_my_soul", {"granted": True}), 404, "unknown_purpose")
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ("{oops", 400),
        ({}, 422),
        ({"granted": "yes"}, 422),
        ({"granted": 1}, 422),
        ({"granted": None}, 422),
        ([True], 422),
    ],
)
def test_put_bad_input(api, user, tokens, payload, status):
    assert_error(_put(api, tokens, "marketing_email", payload), status)
    assert not ConsentRecord.objects.exists()


def test_put_ignores_unknown_fields(api, user, tokens, make_user):
    other = make_user(email="bob@example.com")
    r = _put(
        api,
        tokens,
        "marketing_email",
        {
            "granted": True,
            "policy_version": "1999",
            "source": "console",
            "user": str(other.pk),
            "ip": "1.2.3.4",
        },
    )
    assert r.status_code == 200
    record = ConsentRecord.objects.get()
    assert (record.user_id, record.policy_version, record.source) == (user.pk, "2026-01", "api")
    assert record.ip == "127.0.0.1"


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/me/consents"), ("get", "/me/consents/history"), ("put", "/me/consents/marketing_email")],
)
def test_consents_need_bearer(api, method, path):
    assert_error(api.call(method, path, {"granted": True} if method == "put" else None), 401)


@pytest.mark.parametrize("query", ["limit=0", "limit=500", "offset=x"])
def test_history_bad_paging(api, user, tokens, query):
    assert_error(
        api.call("get", f"/me/consents/history?{query}", token=tokens["access"]), 422, "validation_error"
    )


def test_put_huge_body(api, user, tokens):
    r = _put(api, tokens, "marketing_email", '{"granted": true, "x": "' + "a" * 2_000_000 + '"}')
    assert_error(r, 413, "payload_too_large")
    assert not ConsentRecord.objects.exists()


def test_expired_access_token(api, user, tokens, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    time_machine.move_to(timezone.now() + timedelta(minutes=16))
    assert_error(_put(api, tokens, "marketing_email", {"granted": True}), 401)
    assert_error(api.call("get", "/me/consents", token=tokens["access"]), 401)
    assert not ConsentRecord.objects.exists()
