"""The PostgreSQL backend's health check (config/postgresql): a live idle connection passes without a round
trip; one the server ended fails, and the next query reconnects, as after a failed `SELECT 1`."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connections

from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def _wrapper():  # a connection of its own, outside the test's
    return connections.create_connection("default")


def test_a_live_idle_connection_is_usable_without_a_query() -> None:
    wrapper = _wrapper()
    try:
        wrapper.ensure_connection()
        sent_before = wrapper.connection.pgconn.transaction_status  # idle
        assert wrapper.is_usable()
        assert wrapper.connection.pgconn.transaction_status == sent_before
        assert connections["default"].settings_dict["ENGINE"] == "config.postgresql"
    finally:
        wrapper.close()


def test_a_connection_the_server_ended_is_unusable_and_the_health_check_reconnects() -> None:
    wrapper = _wrapper()
    try:
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        params = wrapper.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while wrapper.is_usable() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not wrapper.is_usable()
        # What Django does at the first query of a request when CONN_HEALTH_CHECKS is on.
        wrapper.health_check_enabled, wrapper.health_check_done = True, False
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] != pid
    finally:
        wrapper.close()


def test_not_idle_falls_back_to_a_query() -> None:
    wrapper = _wrapper()
    try:
        wrapper.ensure_connection()
        wrapper.set_autocommit(False)
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert wrapper.is_usable()  # in a transaction: Django's own check (SELECT 1)
        wrapper.rollback()
    finally:
        wrapper.close()
