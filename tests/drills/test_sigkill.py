"""A pull killed with SIGKILL mid-window, then re-run, ends with exactly the rows of a clean run.

The pull runs in its own process (``tests/drills/pull_child.py``) against the stand-in service.
Two kill points:

* while the process waits for chunk 3's first page (chunks 1-2 committed): progress must be
  exactly chunk 2's last day;
* inside chunk 3's transaction, after its rows are written and before its progress is recorded
  and committed: chunk 3's rows must vanish with the transaction. On PostgreSQL the test holds the
  station's progress row locked, so the child blocks in ``advance_progress`` and is killed there
  (seen waiting in ``pg_stat_activity``). SQLite has no row locks to hold a writer mid-transaction,
  so the child pauses at that point itself (``DRILL_PAUSE_IN_CHUNK``, a sleep after chunk 3's
  upsert returns) and is killed while it sleeps.

Either way the database holds exactly the clean rows up to the recorded progress — no gaps,
nothing past it — and a re-run completes the history with no duplicates, equal to a clean run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from streamflow.windows import OVERLAP
from streamflow.vocabulary import DataType
from tests.drills.support import (
    STATION,
    ProgressRowLock,
    chunk_ends,
    covering,
    create_config,
    expected_daily,
    progress,
    pull,
    stored,
)
from streamflow.testing.replay import Request

REPO_ROOT = Path(__file__).resolve().parents[2]
CLEAN_STATION = "02458502"  # pulled without faults beside the killed one


def _start_child(config_id: int, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.drills.pull_child", str(config_id), STATION],
        cwd=REPO_ROOT, env={**os.environ, **extra_env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("moment", ["waiting for chunk 3", "inside chunk 3's write"])
def test_sigkill_mid_window_then_rerun_equals_a_clean_run(moment, engine, db_url, fake, faults, tmp_path):
    postgres = db_url.startswith("postgresql")
    config_id = create_config(engine, stations=(STATION, CLEAN_STATION))
    ends = chunk_ends()
    reached, release = threading.Event(), threading.Event()
    chunk3_first, chunk3_last = covering(date(2015, 1, 1), page=1), covering(date(2015, 1, 1), page=4)
    lock: list[ProgressRowLock] = []

    def gate(request: Request) -> None:
        if request.arg("monitoring_location_id") != f"USGS-{STATION}" or reached.is_set() or lock:
            return  # one shot: only the child's first pass through chunk 3
        if moment == "waiting for chunk 3" and chunk3_first(request):
            reached.set()
            release.wait(60)  # hold the request: the child is blocked on chunk 3's first page
        elif moment == "inside chunk 3's write" and postgres and chunk3_last(request):
            lock.append(ProgressRowLock(db_url, config_id))

    faults.on_request.append(gate)
    marker = tmp_path / "paused"
    pause = {"DRILL_PAUSE_IN_CHUNK": "3", "DRILL_MARKER": str(marker)}
    child = _start_child(config_id, **(pause if moment == "inside chunk 3's write" and not postgres else {}))
    try:
        deadline = time.monotonic() + 120
        if moment == "waiting for chunk 3":
            assert reached.wait(120), "the child never reached chunk 3"
        else:  # wait until the child is inside chunk 3's transaction
            while not (lock[0].writer_waiting() if lock else marker.exists()):
                assert time.monotonic() < deadline and child.poll() is None, "the child never got inside chunk 3's write"
                time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        _out, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, err[-2000:]
    finally:
        faults.on_request.clear()
        release.set()
        if child.poll() is None:
            child.kill()
        for held in lock:
            held.release()

    # After the kill: exactly the clean rows up to the committed progress, nothing after it.
    after_kill = progress(engine, config_id)
    clean = expected_daily(fake, STATION)
    assert after_kill == ends[1]  # chunk 3's rows (if written) went with its transaction
    assert stored(engine) == {day: value for day, value in clean.items() if day <= after_kill}

    # The re-run resumes from progress minus the overlap and completes the window.
    outcome = pull(engine, config_id)
    assert outcome.status == "success"
    assert outcome.window.startswith((after_kill - OVERLAP[DataType.DAILY_MEAN]).strftime("%Y-%m-%dT"))
    assert stored(engine) == clean
    assert progress(engine, config_id) == ends[-1]

    # The same rows as a clean, uninterrupted pull of another station over the same window.
    pull(engine, config_id, CLEAN_STATION)
    clean_run = stored(engine, CLEAN_STATION)
    assert clean_run == expected_daily(fake, CLEAN_STATION)
    assert sorted(stored(engine)) == sorted(clean_run)
    assert progress(engine, config_id, CLEAN_STATION) == progress(engine, config_id)
