"""Deployment secrets (issue 16 item 7) that need no PostgreSQL: docker/init.sh refuses the
placeholders of .env.example before touching anything, and the local SQLite deployment keeps its
database and password files private (0600). The per-container secrets are checked in
test_compose.py, the non-superuser roles in test_init.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.compose_spec import env_example, service_environment

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "STREAMFLOW", "_AIRFLOW"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)
    return env


def test_init_refuses_every_placeholder_of_env_example_and_names_it(tmp_path):
    # .env.example copied with only the empty keys filled: what issue 16 reproduced.
    dotenv = {**env_example(), "AIRFLOW__CORE__FERNET_KEY": "Xq2cSuuvnBqPw1qGZbHnnpW3G7Ecnhx3BFzB0mXhN0Q=",
              "AIRFLOW__API_AUTH__JWT_SECRET": "j" * 32, "AIRFLOW__API__SECRET_KEY": "s" * 32}
    env = {**_clean_env(tmp_path), **service_environment("airflow-init", dotenv),
           "AIRFLOW_HOME": str(tmp_path / "airflow")}

    result = subprocess.run(["bash", str(REPO / "docker" / "init.sh")], env=env, capture_output=True, text=True,
                            timeout=120, check=False)

    assert result.returncode == 2, result.stderr
    for variable in ("AIRFLOW_DB_PASSWORD", "STREAMFLOW_DB_PASSWORD", "STREAMFLOW_ADMIN_PASSWORD"):
        assert f"init: refusing to start: {variable} is still the placeholder" in result.stderr, variable
    assert "airflow db migrate" not in result.stderr  # nothing was started or written
    assert not (tmp_path / "airflow").exists()


def test_init_accepts_real_secrets_and_refuses_a_single_leftover(tmp_path):
    env = {**_clean_env(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "STREAMFLOW_ADMIN_PASSWORD": "change-me-admin",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:s3cret@db/airflow"}
    result = subprocess.run(["bash", str(REPO / "docker" / "init.sh")], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.count("refusing to start") == 1
    assert "STREAMFLOW_ADMIN_PASSWORD is still the placeholder 'change-me-admin'" in result.stderr
    assert "s3cret" not in result.stderr


@pytest.mark.slow
def test_local_deployment_creates_its_databases_and_password_file_0600(tmp_path):
    """scripts/run.sh's environment (scripts/airflow_env.sh) and init: SQLite files and the
    SimpleAuthManager password file are readable by their owner only, whatever the caller's umask."""
    env = {**_clean_env(tmp_path), "STREAMFLOW_AIRFLOW_HOME": str(tmp_path / "airflow"),
           "STREAMFLOW_HOME": str(tmp_path / "streamflow"), "STREAMFLOW_SKIP_REFERENCE": "true"}
    result = subprocess.run(["bash", "-c", f"umask 022; source {REPO}/scripts/airflow_env.sh && bash {REPO}/docker/init.sh"],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]

    files = [tmp_path / "airflow" / "airflow.db", tmp_path / "streamflow" / "streamflow.db",
             tmp_path / "airflow" / "simple_auth_manager_passwords.json"]
    modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
    assert modes == {f.name: "0o600" for f in files}
    assert not list((tmp_path / "airflow").glob("*.tmp"))  # the temp file was renamed into place
