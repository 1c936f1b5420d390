"""Reference data: station id mappings and the master station list (docs/architecture.md#reference-data).

Two steps, kept apart:

* :func:`build_reference` is pure file work (``streamflow db build-reference``): the parsers in
  ``reference.upstream`` read the upstream files in ``data/upstream``, ``reference.matching``
  ties their ids together and ``reference.build`` writes the CSVs in ``data/`` (their names and
  columns: ``reference.files``).
* :func:`load_reference` (``reference.load``, ``streamflow db load-reference``) upserts those
  CSVs into ``station_mappings`` and ``master_stations``; re-running it changes nothing.

Station search lives in ``streamflow.db.stations``.
"""

from streamflow.reference.build import BuildReport, build_reference
from streamflow.reference.load import LoadReport, load_reference

__all__ = ["BuildReport", "LoadReport", "build_reference", "load_reference"]
