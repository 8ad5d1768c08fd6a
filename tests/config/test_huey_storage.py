"""The embedded default's queue (config/huey.py): a queue file that cannot be opened does not stop start-up,
and is used as soon as it can be."""

from __future__ import annotations

import logging

import pytest

from config.huey import SqliteStorage


def test_an_unopenable_queue_file_is_logged_then_used_once_it_can_be(tmp_path, caplog) -> None:
    blocker = tmp_path / "queue"
    blocker.write_text("a regular file where the queue's folder should be")
    with caplog.at_level(logging.ERROR, logger="config.huey"):
        storage = SqliteStorage("q", filename=str(blocker / "huey.sqlite3"))  # does not raise
    assert "cannot be opened" in caplog.text
    with pytest.raises(Exception, match="unable to open database file"):
        storage.enqueue(b"task", 0)

    blocker.unlink()
    blocker.mkdir()
    storage.enqueue(b"task", 0)  # the tables are created on first use
    assert storage.queue_size() == 1
    assert storage.conn.execute("pragma synchronous").fetchone() == (1,)  # NORMAL: no flush per task
    storage.close()
