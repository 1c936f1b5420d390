"""Reading docker-compose.airflow.yml and .env.example the way Compose does (for the deploy tests).

The resolution itself is docker/compose_env.py — what scripts/cluster.sh starts its processes
with — so the tests check the same code the cluster runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.airflow.yml"
ENV_EXAMPLE = REPO / ".env.example"
AIRFLOW_ENV = REPO / "docker" / "airflow.env"

_spec = importlib.util.spec_from_file_location("compose_env", REPO / "docker" / "compose_env.py")
compose_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compose_env)

VARIABLE = compose_env.VARIABLE
ComposeError = compose_env.ComposeError
interpolate = compose_env.interpolate
read_dotenv = compose_env.read_dotenv
service_environment = compose_env.service_environment


def env_example() -> dict[str, str]:
    return read_dotenv(ENV_EXAMPLE)
