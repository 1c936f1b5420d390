"""Run one station pull in its own process (the SIGKILL drill kills it mid-window).

    python -m tests.drills.pull_child CONFIG_ID [STATION]

The database comes from ``STREAMFLOW_DATABASE_URL`` and the service from
``AIRFLOW_CONN_USGS_WATERDATA``, both inherited from the test. Prints the outcome as JSON.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from streamflow.db.engine import get_engine
    from tests.drills.support import STATION, pull

    config_id = int(sys.argv[1])
    station = sys.argv[2] if len(sys.argv) > 2 else STATION
    outcome = pull(get_engine(), config_id, station)
    print(json.dumps(outcome.to_dict()))


if __name__ == "__main__":
    main()
