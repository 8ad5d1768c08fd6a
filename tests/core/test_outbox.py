"""core.outbox as a service: publish, fan-out, delivery, backoff, leases, and the operators' functions.

The handlers below register test-only topics; each records what it did in effects, and a test sets fail to
make one raise."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine as tm
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from accounts.models import User
from core import context, outbox
from core.models import OutboxMessage

effects: list[tuple[str, int]] = []
fail: dict[str, Exception] = {}
hooks: dict[str, Any] = {}


def _effect(name: str, message: OutboxMessage) -> None:
    if name in hooks:
        hooks[name](message)
    if name in fail:
        raise fail[name]
    effects.append((name, message.pk))


@outbox.handler("test.fanout", transactional=True, key="tests.fanout.first")
def _first(message: OutboxMessage) -> None:
    _effect("first", message)


@outbox.handler("test.fanout", transactional=False, key="tests.fanout.second")
def _second(message: OutboxMessage) -> None:
    _effect("second", message)


@outbox.handler("test.writes", transactional=True, key="tests.writes")
def _writes(message: OutboxMessage) -> None:
    # A transactional handler's database write, which must commit or roll back with the row's mark.
    User.objects.create_user(email=str(message.payload["email"]), password=None)
    _effect("writes", message)


@outbox.handler("test.outside", transactional=False, key="tests.outside")
def _outside(message: OutboxMessage) -> None:
    _effect("outside", message)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    effects.clear()
    fail.clear()
    hooks.clear()
    yield
    effects.clear()
    fail.clear()
    hooks.clear()


def rows(**filters: Any) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(**filters).order_by("id"))


def publish(topic: str = "test.outside", payload: dict[str, Any] | None = None, **kw: Any) -> list[int]:
    with transaction.atomic():
        return [m.pk for m in outbox.publish(topic, payload or {}, **kw)]


def due_again(row: OutboxMessage) -> tm.travel:
    return tm.travel(row.available_at + timedelta(seconds=1))


# --- publish ------------------------------------------------------------------------------------------


def test_publish_in_a_rolled_back_transaction_leaves_no_row_and_no_effect(db) -> None:
    with TestCase.captureOnCommitCallbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        outbox.publish("test.writes", {"email": "never@example.com"})
        assert OutboxMessage.objects.count() == 1  # written inside the transaction...
        raise RuntimeError("the change failed")
    assert OutboxMessage.objects.count() == 0  # ...and gone with it
    assert callbacks == []  # no kick either
    assert outbox.relay().claimed == 0
    assert effects == [] and not User.objects.filter(email="never@example.com").exists()


def test_publish_without_a_handler_raises_and_writes_nothing(db) -> None:
    with pytest.raises(LookupError, match="no outbox handler"), transaction.atomic():
        outbox.publish("test.nobody_listens", {"x": 1})
    assert OutboxMessage.objects.count() == 0


def test_publish_kicks_the_relay_once_committed(db) -> None:
    with TestCase.captureOnCommitCallbacks() as callbacks:
        ids = publish("test.outside", {"n": 1})
    assert callbacks == [outbox.kick]
    assert effects == []  # nothing ran before the commit
    for callback in callbacks:
        callback()  # HUEY is immediate in the tests: the kick runs the relay
    assert effects == [("outside", ids[0])]


def test_publish_records_payload_subject_and_request_context(db) -> None:
    subject = uuid.uuid4()
    token = context.bind(context.RequestContext(ip="203.0.113.9", user_agent="ua", request_id="req-1"))
    try:
        [row_id] = publish("test.outside", {"n": 1}, subject_id=subject)
    finally:
        context.reset(token)
    row = OutboxMessage.objects.get(pk=row_id)
    assert row.payload == {"n": 1} and row.subject_id == subject and row.status == "pending"
    assert row.context == {"ip": "203.0.113.9", "user_agent": "ua", "request_id": "req-1"}
    seen: list[str | None] = []
    hooks["outside"] = lambda message: seen.append(context.current().ip)
    assert outbox.relay().delivered == 1
    assert seen == ["203.0.113.9"]  # the handler runs in the change's request context
    assert context.current().ip != "203.0.113.9"  # and it is unbound afterwards


def test_a_second_handler_under_the_same_key_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        outbox.handler("test.outside", transactional=False, key="tests.outside")(lambda message: None)


# --- delivery -----------------------------------------------------------------------------------------


def test_fan_out_one_row_per_handler_each_delivered_once(db) -> None:
    ids = publish("test.fanout", {"n": 1})
    assert [r.handler for r in rows()] == ["tests.fanout.first", "tests.fanout.second"]
    result = outbox.relay()
    assert (result.claimed, result.delivered) == (2, 2)
    assert sorted(effects) == [("first", ids[0]), ("second", ids[1])]
    assert {r.status for r in rows()} == {"delivered"}
    assert all(r.payload == {} and r.delivered_at for r in rows())  # the payload is not kept
    assert outbox.relay().claimed == 0  # nothing twice
    assert len(effects) == 2


def test_one_failing_handler_does_not_hold_back_the_others(db) -> None:
    fail["second"] = ConnectionError("smtp down")
    publish("test.fanout", {"n": 1})
    result = outbox.relay()
    assert (result.delivered, result.retrying) == (1, 1)
    first, second = rows()
    assert first.status == "delivered"
    assert second.status == "pending" and second.attempts == 1
    assert second.last_error == "ConnectionError: smtp down"
    assert second.payload == {"n": 1}  # kept for the retry


def test_a_transactional_handler_that_fails_rolls_back_its_writes_with_its_mark(db) -> None:
    fail["writes"] = RuntimeError("half way")
    [row_id] = publish("test.writes", {"email": "half@example.com"})
    assert outbox.relay().retrying == 1
    assert not User.objects.filter(email="half@example.com").exists()
    row = OutboxMessage.objects.get(pk=row_id)
    assert row.status == "pending" and row.attempts == 1 and row.lease_owner == ""
    del fail["writes"]
    with due_again(row):
        assert outbox.relay().delivered == 1
    assert User.objects.filter(email="half@example.com").count() == 1
    assert effects == [("writes", row_id)]


def test_a_transactional_handler_whose_lease_was_taken_over_rolls_back(db) -> None:
    # While the handler ran, another relay took the row over (this one's lease had run out).
    def taken_over(message: OutboxMessage) -> None:
        OutboxMessage.objects.filter(pk=message.pk).update(lease_owner="another-relay")

    hooks["writes"] = taken_over
    [row_id] = publish("test.writes", {"email": "late@example.com"})
    result = outbox.relay()
    assert (result.delivered, result.lost) == (0, 1)
    # The handler's write and the takeover it saw rolled back together: nothing half-done is left.
    assert not User.objects.filter(email="late@example.com").exists()
    row = OutboxMessage.objects.get(pk=row_id)
    assert row.status == "pending" and row.attempts == 0


def test_a_row_for_a_handler_this_process_does_not_know_backs_off(db) -> None:
    OutboxMessage.objects.create(topic="gone.topic", handler="removed.handler", payload={})
    result = outbox.relay()
    assert result.retrying == 1
    row = rows()[0]
    assert row.attempts == 1 and row.last_error.startswith("LookupError: no outbox handler named")


def test_backoff_is_exponential_capped_and_jittered(settings) -> None:
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 10
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 300
    for attempts, cap in [(1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (20, 300)]:
        delays = [outbox.backoff_seconds(attempts) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays), (attempts, min(delays), max(delays))
        assert len({round(d, 6) for d in delays}) > 150  # jitter: failing rows spread out


def test_a_row_that_keeps_failing_backs_off_then_fails_for_good(db, settings, caplog, time_machine) -> None:
    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 10
    fail["outside"] = ConnectionError("still down")
    [row_id] = publish("test.outside", {"n": 1})
    delays = []
    for attempt in (1, 2):
        before = timezone.now()
        assert outbox.relay().retrying == 1
        row = OutboxMessage.objects.get(pk=row_id)
        assert row.status == "pending" and row.attempts == attempt
        delays.append((row.available_at - before).total_seconds())
        assert outbox.relay().claimed == 0  # not due during its backoff
        time_machine.move_to(row.available_at + timedelta(seconds=1), tick=False)
    assert 5 <= delays[0] <= 10.5 and 10 <= delays[1] <= 20.5
    with caplog.at_level(logging.ERROR, logger="core.outbox"):
        assert outbox.relay().failed == 1
    time_machine.move_to(timezone.now() + timedelta(days=30), tick=False)
    row = OutboxMessage.objects.get(pk=row_id)
    assert row.status == "failed" and row.attempts == 3 and row.last_error == "ConnectionError: still down"
    assert outbox.relay().claimed == 0  # a failed row waits for an operator, whatever the time
    assert "failed for good after 3 attempts" in caplog.text
    assert effects == []


# --- leases -------------------------------------------------------------------------------------------


def test_a_row_held_by_a_dead_relay_is_taken_once_its_lease_runs_out(db, settings) -> None:
    settings.OUTBOX_LEASE_SECONDS = 60
    [row_id] = publish("test.writes", {"email": "once@example.com"})
    # A relay claimed the row and died before delivering it.
    lease_until = timezone.now() + timedelta(seconds=60)
    OutboxMessage.objects.filter(pk=row_id).update(lease_owner="dead-relay", available_at=lease_until)
    stale = OutboxMessage.objects.get(pk=row_id)
    assert outbox.relay().claimed == 0  # held
    with tm.travel(lease_until + timedelta(seconds=1)):
        assert outbox.relay().delivered == 1
    assert effects == [("writes", row_id)]
    # The first relay wakes up and delivers its stale copy: its lease is gone, so its work is rolled back.
    assert outbox.deliver(stale) == outbox.LOST
    assert effects == [("writes", row_id)]
    assert User.objects.filter(email="once@example.com").count() == 1


def test_a_late_failure_does_not_touch_a_row_another_relay_took(db) -> None:
    [row_id] = publish("test.outside", {"n": 1})
    OutboxMessage.objects.filter(pk=row_id).update(lease_owner="dead-relay")
    stale = OutboxMessage.objects.get(pk=row_id)
    OutboxMessage.objects.filter(pk=row_id).update(lease_owner="new-relay")
    fail["outside"] = ConnectionError("down")
    assert outbox.deliver(stale) == outbox.LOST
    row = OutboxMessage.objects.get(pk=row_id)
    assert row.attempts == 0 and row.lease_owner == "new-relay" and row.last_error == ""


def test_a_slow_batch_gives_back_what_it_cannot_start_within_half_its_lease(db, settings) -> None:
    settings.OUTBOX_LEASE_SECONDS = 0.4
    hooks["outside"] = lambda message: time.sleep(0.25)
    ids = [publish("test.outside", {"n": n})[0] for n in range(3)]
    result = outbox.relay(batch_size=3)
    # Each claim starts one row (0.25 s > half the lease), gives the rest back and claims them again.
    assert result.delivered == 3 and result.released == 3 and result.claimed == 6
    assert effects == [("outside", i) for i in ids]
    assert {r.status for r in rows()} == {"delivered"}


# --- operators ----------------------------------------------------------------------------------------


def _failed_row(**fields: Any) -> OutboxMessage:
    return OutboxMessage.objects.create(
        topic="test.outside",
        handler="tests.outside",
        payload={"n": 1},
        status="failed",
        attempts=12,
        last_error="ConnectionError: down",
        **fields,
    )


def test_retry_gives_a_failed_row_fresh_attempts_due_now(db) -> None:
    row = _failed_row(available_at=timezone.now() + timedelta(days=1))
    with TestCase.captureOnCommitCallbacks() as callbacks:
        assert outbox.retry(message_id=row.pk) is True
    assert callbacks == [outbox.kick]
    row.refresh_from_db()
    assert row.status == "pending" and row.attempts == 0 and row.available_at <= timezone.now()
    assert outbox.relay().delivered == 1
    assert effects == [("outside", row.pk)]


def test_retry_refuses_what_is_not_failed(db) -> None:
    [pending] = publish("test.outside", {"n": 1})
    assert outbox.retry(message_id=pending) is False
    assert outbox.relay().delivered == 1
    assert outbox.retry(message_id=pending) is False  # delivered
    assert outbox.retry(message_id=10**9) is False  # unknown
    assert OutboxMessage.objects.get(pk=pending).status == "delivered"


def test_backlog_counts_pending_and_failed_and_ages_the_oldest_pending(db) -> None:
    assert outbox.backlog() == outbox.Backlog(pending=0, failed=0, oldest_pending_seconds=0)
    with tm.travel(timezone.now() - timedelta(seconds=90), tick=False):
        publish("test.outside", {"n": 1})
        _failed_row()  # older, but failed: not a pending one
    publish("test.outside", {"n": 2})
    OutboxMessage.objects.create(topic="test.outside", handler="tests.outside", status="delivered")
    backlog = outbox.backlog()
    assert (backlog.pending, backlog.failed) == (2, 1)
    assert 90 <= backlog.oldest_pending_seconds <= 95


def test_purge_delivered_drops_old_delivered_rows_only(db, settings) -> None:
    settings.OUTBOX_RETENTION_DAYS = 7
    now = timezone.now()
    old = OutboxMessage.objects.create(
        topic="t", handler="h", status="delivered", delivered_at=now - timedelta(days=8)
    )
    recent = OutboxMessage.objects.create(
        topic="t", handler="h", status="delivered", delivered_at=now - timedelta(days=6)
    )
    waiting = OutboxMessage.objects.create(topic="t", handler="h", created_at=now - timedelta(days=30))
    failed = _failed_row(created_at=now - timedelta(days=30))
    assert outbox.purge_delivered(dry_run=True) == 1
    assert OutboxMessage.objects.filter(pk=old.pk).exists()
    assert outbox.purge_delivered() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk, failed.pk}


def test_forget_subject_drops_the_undelivered_rows_about_a_user(db) -> None:
    gone, other = uuid.uuid4(), uuid.uuid4()
    [pending] = publish("test.outside", {"to": "gone@example.com"}, subject_id=gone)
    failed = _failed_row(subject_id=gone)
    delivered = OutboxMessage.objects.create(topic="t", handler="h", status="delivered", subject_id=gone)
    [others] = publish("test.outside", {"to": "other@example.com"}, subject_id=other)
    # Published without a subject (the erasure's own confirmation mail): kept.
    [confirmation] = publish("test.outside", {"to": "gone@example.com"})
    # Being delivered right now by a relay (leased): its effect is under way, so it is left alone.
    [in_flight] = publish("test.outside", {"to": "gone@example.com"}, subject_id=gone)
    OutboxMessage.objects.filter(pk=in_flight).update(
        lease_owner="relay", available_at=timezone.now() + timedelta(minutes=5)
    )
    assert outbox.forget_subject(subject_id=gone) == 2
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {
        delivered.pk,
        others,
        confirmation,
        in_flight,
    }
    assert not OutboxMessage.objects.filter(pk__in=[pending, failed.pk]).exists()


@pytest.mark.parametrize("broker", ["sqlite-unwritable", "redis-closed-port"])
def test_a_kick_with_the_broker_down_is_logged_and_never_raised(db, broker, caplog) -> None:
    from huey.contrib.djhuey import HUEY
    from huey.storage import PriorityRedisStorage

    from config.huey import SqliteStorage
    from tests.live.server import free_port

    if broker == "sqlite-unwritable":
        # A path under a regular file: no one can create it, root included.
        storage: Any = SqliteStorage("down", filename="/dev/null/huey.sqlite3")
    else:
        storage = PriorityRedisStorage("down", url=f"redis://127.0.0.1:{free_port()}/0")
    saved = HUEY.storage, HUEY._immediate
    HUEY.storage, HUEY._immediate = storage, False
    try:
        with (
            caplog.at_level(logging.ERROR, logger="core.outbox"),
            TestCase.captureOnCommitCallbacks(execute=True),
        ):
            [row_id] = publish("test.outside", {"n": 1})
    finally:
        HUEY.storage, HUEY._immediate = saved
    assert "could not queue the relay" in caplog.text
    assert OutboxMessage.objects.get(pk=row_id).status == "pending"  # committed, waiting for a relay
    assert outbox.relay().delivered == 1  # the periodic relay (or the next kick) delivers it
    assert effects == [("outside", row_id)]


def test_one_kick_per_transaction_however_many_rows_it_publishes(db) -> None:
    with TestCase.captureOnCommitCallbacks() as callbacks, transaction.atomic():
        outbox.publish("test.outside", {"n": 1})
        outbox.publish("test.fanout", {"n": 2})
        with transaction.atomic():
            outbox.publish("test.outside", {"n": 3})
    assert callbacks == [outbox.kick]
    assert OutboxMessage.objects.count() == 4


def test_a_kick_dropped_with_a_rolled_back_savepoint_is_registered_again(db) -> None:
    with TestCase.captureOnCommitCallbacks() as callbacks, transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.publish("test.outside", {"n": 1})  # its kick goes with the savepoint
            raise RuntimeError("rolled back")
        outbox.publish("test.outside", {"n": 2})  # so this one needs its own
    assert callbacks == [outbox.kick]
    assert [r.payload for r in rows()] == [{"n": 2}]


def test_separate_transactions_kick_separately(db) -> None:
    with TestCase.captureOnCommitCallbacks() as callbacks:
        publish("test.outside", {"n": 1})
        publish("test.outside", {"n": 2})
    assert callbacks == [outbox.kick, outbox.kick]
