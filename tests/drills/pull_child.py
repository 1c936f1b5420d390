"""Run one station pull in its own process (the SIGKILL drill kills it mid-window).

    python -m tests.drills.pull_child CONFIG_ID [STATION]

The database comes from ``STREAMFLOW_DATABASE_URL`` and the service from
``AIRFLOW_CONN_USGS_WATERDATA``, both inherited from the test. Prints the outcome as JSON.

``DRILL_PAUSE_IN_CHUNK=N`` (with ``DRILL_MARKER=<path>``): after chunk N's rows are written and
before its progress is recorded and committed, create the marker file and sleep — the test kills
the process there, inside the chunk's transaction. Only a pause: nothing is replaced.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _pause_inside_chunk(chunk: int, marker: Path) -> None:
    from streamflow.db import repository

    original = repository.upsert_observations
    calls = {"n": 0}

    def upsert_observations(*args, **kwargs):
        result = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == chunk:
            marker.write_text(str(os.getpid()))
            time.sleep(120)  # killed here, with the chunk's transaction open
        return result

    repository.upsert_observations = upsert_observations


def main() -> None:
    from streamflow.db.engine import get_engine
    from tests.drills.support import STATION, pull

    if os.environ.get("DRILL_PAUSE_IN_CHUNK"):
        _pause_inside_chunk(int(os.environ["DRILL_PAUSE_IN_CHUNK"]), Path(os.environ["DRILL_MARKER"]))
    config_id = int(sys.argv[1])
    station = sys.argv[2] if len(sys.argv) > 2 else STATION
    outcome = pull(get_engine(), config_id, station)
    print(json.dumps(outcome.to_dict()))


if __name__ == "__main__":
    main()
