"""Test support shared by ``tests/`` and ``bench/``: a local replay server and stand-in services.

Nothing in the production package imports this (an import-linter contract in the test suite
says so). Recorded responses stay in the repository's ``tests/fixtures/``; ``FIXTURES`` points
there, so this package works from a checkout (the editable install every workflow uses).
"""

from pathlib import Path

# plugins/streamflow/testing/__init__.py → repository root is three levels above plugins/streamflow.
FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"
