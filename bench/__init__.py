"""Benchmarks of the streamflow package (issue 6): ``make bench`` / ``python -m bench``.

Each part is a module with a ``run(...)`` function returning a :class:`bench.common.Section`;
``bench.run`` runs the parts, prints the tables and writes ``docs/benchmarks.md``.
"""
