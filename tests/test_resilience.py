"""Resilience: dropped sessions are replaced without re-setup, and threads share a config safely.

Sessions are dropped server-side (MariaDB ``KILL CONNECTION``, PostgreSQL
``pg_terminate_backend``), as a server restart would, between two runs and in the
middle of one. Concurrent runs use one loaded config from eight threads.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from readers import (
    KINDS,
    PASSWORD_ENV,
    READER,
    SERVER_KINDS,
    kill_sessions,
    new_password,
    reader_config,
    reader_user,
    shop_dict,
    slow_config,
    slow_query,
)

import explorer

QUERY = {"from": "User", "attributes": ["id", "name"], "where": {"id": ":uid"},
         "include": [{"orders": {"attributes": ["id", "total"], "include": [{"products": {"attributes": ["name"]}}]}}]}


@pytest.fixture(scope="module", params=SERVER_KINDS)
def reader(request):
    """(kind, a config reaching the shop as this process's own user, so its sessions can be found)."""
    kind, password = request.param, new_password()
    shop = slow_config(shop_dict(request, kind))
    with pytest.MonkeyPatch.context() as patch, reader_user(kind, password):
        patch.setenv(PASSWORD_ENV, password)
        config = explorer.load_config(reader_config(shop, kind))
        yield kind, config
        config.engine("users_and_orders").dispose()


def test_killed_sessions_are_replaced_between_runs(reader):
    kind, config = reader
    first = explorer.run(config, QUERY, {"uid": 1}).records
    assert kill_sessions(kind, READER) >= 1
    for _ in range(3):  # every pooled session is dead; each run must get a live one
        assert explorer.run(config, QUERY, {"uid": 1}).records == first
    assert kill_sessions(kind, READER) >= 1
    assert explorer.run(config, QUERY, {"uid": 3}).root_count == 1


def test_session_killed_mid_query_is_a_clear_error_then_recovers(reader, caplog):
    kind, config = reader
    caplog.set_level(logging.WARNING)
    killer = threading.Timer(0.5, kill_sessions, (kind, READER))
    killer.start()
    try:
        with pytest.raises(explorer.ExecutionError) as caught:
            explorer.run(config, slow_query(), timeout=20)
    finally:
        killer.join()
    message = str(caught.value)
    assert message.startswith("Could not run the query on database 'users_and_orders' (")
    assert ":***@" in message and "\n" not in message
    assert message.endswith("the connection to the server was lost during the statement; run it again "
                            "(the next run reconnects).")
    assert explorer.run(config, QUERY, {"uid": 1}).root_count == 1
    # the dead session was dropped, not handed back to the pool (which logs a traceback)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.fixture(params=KINDS)
def shared(request) -> explorer.Config:
    """A freshly loaded config: its tables are reflected by the first runs, from many threads."""
    return explorer.load_config(shop_dict(request, request.param))


def test_threads_never_mix_results_nor_deadlock(shared):
    def work(worker: int) -> list[tuple[int, list]]:
        return [(uid, explorer.run(shared, QUERY, {"uid": uid}).records)
                for uid in ((worker + i) % 7 + 1 for i in range(20))]

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:  # the first runs also reflect the tables, concurrently
        outcomes = [future.result(timeout=60) for future in [pool.submit(work, w) for w in range(8)]]
    assert time.monotonic() - started < 30
    expected = {uid: explorer.run(shared, QUERY, {"uid": uid}).records for uid in range(1, 8)}
    runs = [run for outcome in outcomes for run in outcome]
    assert len(runs) == 160
    assert all(records == expected[uid] for uid, records in runs)
    assert [len(expected[uid]) for uid in range(1, 8)] == [1] * 7


def test_a_slow_run_in_one_thread_does_not_block_the_others(request):
    config = explorer.load_config(slow_config(shop_dict(request, "sqlite")))
    with ThreadPoolExecutor(4) as pool:
        slow = pool.submit(lambda: pytest.raises(explorer.ExecutionError, explorer.run, config,
                                                 slow_query(), timeout=3))
        time.sleep(0.1)
        started = time.monotonic()
        fast = [pool.submit(explorer.run, config, QUERY, {"uid": uid}) for uid in range(1, 8)]
        assert [f.result(timeout=10).root_count for f in fast] == [1] * 7
        assert time.monotonic() - started < 1.5  # did not wait for the slow statement
        assert "timeout of 3 s" in str(slow.result(timeout=10).value)
