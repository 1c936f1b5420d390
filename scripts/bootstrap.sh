#!/usr/bin/env bash
# Create (or refresh) .venv from the pinned requirements.txt and install this package into it.
# Idempotent: does nothing when requirements.txt and pyproject.toml have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "bootstrap: Python 3.11 is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2; exit 2; }
stamp=.venv/.requirements.sha256
if command -v sha256sum >/dev/null 2>&1; then hash() { sha256sum; }; else hash() { shasum -a 256; }; fi
want=$(cat requirements.txt pyproject.toml | hash | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: installing pinned requirements into .venv (first run takes a few minutes)" >&2
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
.venv/bin/python -m uv pip install --quiet --python .venv/bin/python -r requirements.txt
.venv/bin/python -m uv pip install --quiet --python .venv/bin/python --no-deps -e .
echo "$want" > "$stamp"
