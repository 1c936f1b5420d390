"""The environment docker-compose.airflow.yml gives one of its services, resolved the way Compose
resolves it: the service's ``env_file`` entries, then its ``environment`` (anchors and ``<<``
merges included) with ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?message}`` and
``$$`` substituted from a dotenv file (what ``.env`` is to Compose).

scripts/cluster.sh starts every process through ``exec`` below, so the processes on this machine
get exactly what the containers get — the compose file and docker/airflow.env stay the single
source of truth — plus a few settings that only exist because there is no container (``--local``:
AIRFLOW_HOME, the DAGs folder, loopback host and port). Standard library and PyYAML only.

    python docker/compose_env.py env  SERVICE --dotenv FILE [--local FILE] [--set K=V ...] [--override FILE]
    python docker/compose_env.py exec SERVICE --dotenv FILE [--local FILE] [--set K=V ...] [--override FILE] -- CMD ...

``--local``/``--set`` may only add settings the compose file does not give; ``--override`` changes
them deliberately (the slow test lowers the heartbeat timeout), and each such change is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.airflow.yml"
VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")
# What a process keeps from the caller's environment (everything else comes from the compose file).
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "VIRTUAL_ENV", "PYTHONPATH")


class ComposeError(Exception):
    """A required variable is missing, or the service does not exist."""


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=value lines; '#' comments; single- or double-quoted values taken literally."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ComposeError(f"{path}:{number}: not KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise ComposeError(f"{name}: {arg}")
        return value or ""

    return VARIABLE.sub(one, text)


def service_environment(service: str, dotenv: dict[str, str], compose: Path = COMPOSE) -> dict[str, str]:
    services = yaml.safe_load(compose.read_text(encoding="utf-8"))["services"]
    if service not in services:
        raise ComposeError(f"no service {service!r} in {compose.name} (have: {', '.join(services)})")
    spec = services[service]
    env: dict[str, str] = {}
    for entry in spec.get("env_file") or []:
        env.update(read_dotenv(compose.parent / (entry if isinstance(entry, str) else entry["path"])))
    for key, value in (spec.get("environment") or {}).items():
        env[key] = interpolate("" if value is None else str(value), dotenv)
    return env


def process_environment(service: str, dotenv: dict[str, str], local: dict[str, str],
                        override: dict[str, str] | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k in KEPT}
    compose = service_environment(service, dotenv)
    overlap = sorted(set(local) & set(compose))
    if overlap:
        raise ComposeError(f"--local/--set may only add settings, not change the compose file's: {', '.join(overlap)}")
    return {**base, **compose, **local, **(override or {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compose_env.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("env", "exec"))
    parser.add_argument("service")
    parser.add_argument("--dotenv", type=Path, required=True)
    parser.add_argument("--local", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--override", type=Path)
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.command = command
    try:
        local = read_dotenv(args.local) if args.local else {}
        for item in args.set:
            key, _, value = item.partition("=")
            local[key] = value
        override = read_dotenv(args.override) if args.override else {}
        env = process_environment(args.service, read_dotenv(args.dotenv), local, override)
    except (ComposeError, OSError) as exc:
        print(f"compose_env: {exc}", file=sys.stderr)
        return 2
    if args.action == "env":
        for key in sorted(env):
            print(f"{key}={env[key]}")
        return 0
    if not args.command:
        parser.error("exec needs a command after --")
    for key in sorted(override):
        print(f"compose_env: {args.service}: {key} overridden", file=sys.stderr)
    try:
        os.setsid()  # its own session and process group: stopping the group stops what it forks
    except OSError:
        pass  # already a session leader (started with start_new_session)
    os.execvpe(args.command[0], args.command, env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
