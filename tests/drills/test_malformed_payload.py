"""A malformed payload fails the station at once with a clear message and writes nothing for that chunk.

Two shapes of "malformed": a 200 whose body is not JSON at all (an HTML error page on a chunk's
first page), and well-formed pages of which a later one carries a value the format does not
allow (``time`` that is not a date). Both are permanent errors (retrying cannot help) naming
source and station; the chunk they hit stores nothing — not even its good earlier pages — and
progress stays at the previous chunk.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
from airflow.sdk.definitions.retry_policy import RetryAction

from streamflow.errors import PayloadError
from streamflow.retry import StreamflowRetryPolicy
from tests.drills.support import STATION, chunk_ends, covering, create_config, expected_daily, progress, pull, stored
from streamflow.testing.replay import Request, Response


def _html_page(fake):
    return Response(200, "<html><body>Service temporarily replaced by a maintenance page</body></html>",
                    headers={"Content-Type": "application/geo+json"})


def _bad_time_page(fake):
    def respond(request: Request) -> Response:
        page = fake._serve_daily(request)
        body = copy.deepcopy(page.body)
        body["features"][17]["properties"]["time"] = "31/12/2004"  # not ISO 8601
        return Response(page.status, body, page.headers)

    return respond


CASES = {
    "not JSON on a first page": (_html_page, 1, r"answer could not be parsed \(…/collections/daily/items\)"),
    "bad time on a later page": (_bad_time_page, 3, r"daily time '31/12/2004' is not a date \(…/collections/daily/items\)"),
}


# The database plays no part: the chunk fails before anything is written. SQLite only.
@pytest.mark.parametrize("empty_db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", list(CASES))
def test_malformed_payload_fails_the_station_and_writes_nothing_for_the_chunk(case, engine, fake, faults):
    make, page, message = CASES[case]
    faults.inject(covering(date(2005, 1, 1), page=page), make(fake))  # chunk 2
    config_id = create_config(engine)
    ends = chunk_ends()

    with pytest.raises(PayloadError, match=rf"^usgs: station {STATION}: .*{message}") as info:
        pull(engine, config_id)

    error = info.value
    assert error.retryable is False and error.source == "usgs" and error.station_number == STATION
    assert StreamflowRetryPolicy().evaluate(error, try_number=1, max_tries=4).action == RetryAction.FAIL
    assert progress(engine, config_id) == ends[0]
    # Chunk 1 exactly; nothing of chunk 2 (its boundary day was already stored by chunk 1).
    assert stored(engine) == expected_daily(fake, STATION, last=ends[0].date())
