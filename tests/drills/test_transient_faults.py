"""Transient faults during a multi-chunk pull end with complete data after retries.

Each fault is injected on a chunk's first page and again on a *later* page of another chunk (the
case dataretrieval does not retry itself). The pull fails with a retryable error naming source
and station, progress stays at the last committed chunk, and re-running it — what Airflow's task
retry does, after the delay ``StreamflowRetryPolicy`` asks for — resumes there and ends with
exactly the rows of a clean run.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
import pytest
from airflow.sdk.definitions.retry_policy import RetryAction
from streamflow.errors import TransientSourceError
from streamflow.windows import OVERLAP
from streamflow.retry import StreamflowRetryPolicy
from streamflow.vocabulary import DataType

from tests.drills.support import (
    STATION,
    chunk_ends,
    covering,
    create_config,
    expected_daily,
    progress,
    pull,
    stored,
)
from streamflow.testing.replay import Request, Response


def _cut_off(fake):
    def respond(request: Request) -> Response:
        page = fake._serve_daily(request)
        return Response(page.status, page.body, page.headers, truncate=True)

    return respond


CLIENT_TIMEOUT = 4.0

FAULTS = {
    "429 with Retry-After": (
        lambda fake: Response(429, {"code": "TooManyRequests", "description": "slow down"}, {"Retry-After": "7"}),
        r"too many requests \(HTTP 429 from …/collections/daily/items\)",
    ),
    "503": (
        lambda fake: Response(503, {"code": "ServiceUnavailable", "description": "try later"}),
        r"service unavailable \(HTTP 503 from …/collections/daily/items\)",
    ),
    "connection reset": (lambda fake: Response(reset=True), r"connection failed \(…/collections/daily/items\)"),
    "timeout": (
        lambda fake: Response(503, "too late", delay=CLIENT_TIMEOUT + 1.5),
        r"timed out \(…/collections/daily/items\)",
    ),
    "truncated page": (_cut_off, r"connection failed \(…/collections/daily/items\)"),
}


@pytest.fixture
def short_client_timeout(monkeypatch):
    """dataretrieval's read timeout is a fixed 60 s (``HTTPX_DEFAULTS``; the hook cannot set it);
    a few seconds keep the timeout drill fast without timing out honest pages on a busy machine."""
    from dataretrieval.transport import http

    timeout = httpx.Timeout(CLIENT_TIMEOUT, connect=CLIENT_TIMEOUT)
    monkeypatch.setitem(http.HTTPX_ASYNC_DEFAULTS, "timeout", timeout)
    monkeypatch.setitem(http.HTTPX_DEFAULTS, "timeout", timeout)


# The database plays no part in these faults: SQLite only (the kill and database drills run on both).
@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", list(FAULTS))
def test_transient_faults_end_with_complete_data_after_retries(kind, engine, fake, faults, short_client_timeout):
    make, message = FAULTS[kind]
    faults.inject(covering(date(2005, 1, 1), page=1), make(fake))  # first page of chunk 2
    faults.inject(covering(date(2015, 1, 1), page=3), make(fake))  # third page of the chunk after
    config_id = create_config(engine)
    ends = chunk_ends()
    policy = StreamflowRetryPolicy()

    errors: list[TransientSourceError] = []
    progress_after_failure = []
    for _attempt in range(5):  # Airflow: retries > 0, the retry re-runs the whole station pull
        try:
            outcome = pull(engine, config_id)
            break
        except TransientSourceError as exc:
            errors.append(exc)
            progress_after_failure.append(progress(engine, config_id))
            decision = policy.evaluate(exc, try_number=len(errors), max_tries=5)
            assert decision.action == RetryAction.RETRY, decision
    else:
        pytest.fail(f"{kind}: still failing after 5 runs: {errors}")

    assert len(errors) == 2 and len(faults.injected) == 2
    for exc in errors:
        assert exc.retryable is True
        assert str(exc).startswith(f"usgs: station {STATION}: ")
        assert re.search(message, str(exc)), str(exc)
    if kind == "429 with Retry-After":
        assert [e.retry_after for e in errors] == [7, 7]
        decision = policy.evaluate(errors[0], try_number=1, max_tries=5)
        assert decision.retry_delay == timedelta(seconds=7)
    # The failure in chunk 2 leaves chunk 1 committed. The retry resumes at progress minus the
    # overlap; its second chunk fails, leaving its first chunk (3,650 days on) committed.
    resumed_end = ends[0] - OVERLAP[DataType.DAILY_MEAN] + timedelta(days=3650)
    assert progress_after_failure == [ends[0], resumed_end]
    assert outcome.status == "success" and outcome.chunks_done == 2  # resumed: chunks 3 and 4 only
    assert stored(engine) == expected_daily(fake, STATION)
    assert progress(engine, config_id) == ends[-1]
