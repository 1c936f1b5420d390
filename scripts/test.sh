#!/usr/bin/env bash
# Run the whole test suite: builds .venv from the pinned requirements first if needed.
# The PostgreSQL half runs when STREAMFLOW_TEST_POSTGRES_URL is set (e.g.
# postgresql://postgres@127.0.0.1:5432/postgres); without it those tests are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
