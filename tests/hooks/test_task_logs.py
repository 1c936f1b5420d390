"""Task logs without noise: no pathspec deprecation warning, no "Geopandas not installed", and a
known source error ending in one clear line with the library traceback kept at DEBUG."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from streamflow.db import repository as repo
from streamflow.db.engine import session_scope
from streamflow.factory import build_dags
from streamflow.testing.fakes.usgs import DAILY, FakeUsgs
from streamflow.testing.replay import Response

REPO = Path(__file__).resolve().parents[2]
UTC = timezone.utc


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True, text=True, timeout=300, env={**os.environ, **env}, cwd=REPO,
    )


def test_deployment_reads_the_ignore_file_as_regexps():
    out = subprocess.run(
        ["bash", "-c", "source scripts/airflow_env.sh && echo $AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "STREAMFLOW_AIRFLOW_HOME": "/tmp/sf-unused"},
    )
    assert out.stdout.strip() == "regexp"
    assert "AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX=regexp" in (REPO / "docker" / "airflow.env").read_text().splitlines()


def test_plugins_load_without_the_pathspec_warning_and_without_scanning_the_package():
    code = (
        "import sys\n"
        "from airflow import plugins_manager as pm\n"
        "plugins, errors = pm._load_plugins_from_plugin_directory(plugins_folder=sys.argv[1],\n"
        "    load_examples=False, example_plugins_module=None, ignore_file_syntax='regexp')\n"
        "print('ERRORS', sorted(errors))\n"
        "print('MODULES', sorted(m for m in ('models', 'repository', 'usgs', 'errors') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-W", "always", "-c", code, str(REPO / "plugins")],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "GitWildMatchPattern" not in result.stderr + result.stdout
    assert "ERRORS []" in result.stdout  # the package was not imported file by file ...
    assert "MODULES []" in result.stdout  # ... so no bare top-level 'models', 'usgs' modules either


def test_usgs_import_does_not_log_geopandas_noise():
    result = _python("import logging; logging.basicConfig(level=logging.DEBUG); import streamflow.hooks.usgs")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Geopandas" not in result.stderr
    # the library's other warnings still pass: the filter drops one line, not the logger
    import streamflow.parsers  # noqa: F401  (installs the filter in this process too)

    assert logging.getLogger("dataretrieval.ogc.shaping").filters[0].filter(
        logging.LogRecord("dataretrieval.ogc.shaping", logging.WARNING, "", 0, "something else", None, None)
    )


def test_source_error_ends_the_log_in_one_line_with_the_traceback_at_debug(
    airflow_db, engine, replay, capsys, monkeypatch
):
    monkeypatch.setenv("STREAMFLOW_TASK_RETRIES", "1")  # two attempts, no wait between them
    monkeypatch.setenv("STREAMFLOW_RETRY_DELAY_SECONDS", "0")
    until = datetime.now(UTC) - timedelta(days=3)
    FakeUsgs(replay, until=until)
    replay.add(DAILY, Response(503, b"down for maintenance"), first=True)
    with session_scope(engine) as s:
        config = repo.create_configuration(
            s, name="down", data_type="daily_mean", data_strategy="append",
            pull_start_date=until - timedelta(days=5), schedule_type="daily",
            stations=[{"station_number": "01646500"}],
        )
        config_id = config.id
    with session_scope(engine) as s:
        dag = build_dags(repo.load_configuration_rows(s))[f"streamflow_config_{config_id}"]
    capsys.readouterr()
    assert dag.test().state == "failed"
    log = capsys.readouterr().out  # dag.test() writes the task logs here
    ends = [line for line in log.splitlines() if "| attempt " in line]
    assert len(ends) == 2, log[-4000:]
    for line, tail in zip(ends, [" | attempt 1 of 2 failed; Airflow retries it (1 attempt(s) left)",
                                   " | attempt 2 of 2 failed; no attempt left: the task fails now"], strict=True):
        assert "[error" in line and "usgs: station 01646500: service unavailable (HTTP 503" in line
        assert "| window chunk 1/1 " in line and "[host 127.0.0.1:" in line
        assert tail in line
    # The traceback Airflow's runner prints stops at our execute(): no library frames, no chain.
    for library in ("/dataretrieval/", "/httpx/", "/anyio/", "/httpcore/"):
        assert library not in log
    assert "The above exception was the direct cause" not in log


def test_detached_error_keeps_the_library_traceback_at_debug(caplog):
    from streamflow.errors import TransientSourceError, detach_library_traceback

    def library_call():
        raise ConnectionResetError("peer reset")

    try:
        try:
            library_call()
        except ConnectionResetError as inner:
            raise TransientSourceError("connection failed", source="usgs", station_number="1") from inner
    except TransientSourceError as exc:
        original = exc
        with caplog.at_level(logging.DEBUG, logger="test.detach"):
            detached = detach_library_traceback(exc, logging.getLogger("test.detach"))
    assert detached is original and detached.__cause__ is None and detached.__traceback__ is None
    assert detached.retryable  # the retry policy decides on the same error
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG
    assert "library_call" in record.getMessage() and "ConnectionResetError: peer reset" in record.getMessage()
