"""Shared plumbing for the benchmarks: machine facts, scratch databases, result tables."""

from __future__ import annotations

import logging
import os
import platform
import re
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

log = logging.getLogger("bench")


# --------------------------------------------------------------------------- results


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = [f"| {' | '.join(self.columns)} |", "|" + "|".join("---" for _ in self.columns) + "|"]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return "\n".join(lines)

    def text(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c) for i, c in enumerate(self.columns)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [self.title, fmt.format(*self.columns), fmt.format(*("-" * w for w in widths))]
        out += [fmt.format(*row) for row in self.rows]
        return "\n".join(out)


@dataclass
class Section:
    """One benchmark's results: tables, a design note and verdicts against the targets."""

    key: str
    title: str
    design: str = ""
    tables: list[Table] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        parts = [f"## {self.title}", ""]
        if self.design:
            parts += [_single_ticks(self.design.strip()), ""]
        for table in self.tables:
            if table.title:
                parts += [f"**{table.title}**", ""]
            parts += [table.markdown(), ""]
        if self.verdicts:
            parts += ["Targets:", ""] + [f"- {v}" for v in self.verdicts] + [""]
        if self.notes:
            parts += [_single_ticks(n.strip()) + "\n" for n in self.notes]
        return "\n".join(parts)

    def text(self) -> str:
        parts = [f"== {self.title} =="]
        parts += [t.text() + "\n" for t in self.tables]
        parts += [f"  * {v}" for v in self.verdicts]
        return "\n".join(parts)


def _single_ticks(text: str) -> str:
    """reST-style ``code`` from docstrings → Markdown `code` (code fences left alone)."""
    return re.sub(r"(?<!`)``(?!`)", "`", text)


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "∞"


def secs(seconds: float) -> str:
    return f"{seconds:.2f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- machine + versions


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": cpu,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
    }


def versions(postgres_url: str | None) -> dict[str, str]:
    import airflow
    import pandas
    import sqlalchemy

    out = {
        "python": platform.python_version(),
        "airflow": airflow.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "pandas": pandas.__version__,
    }
    try:
        import psycopg

        out["psycopg"] = psycopg.__version__
    except ImportError:
        pass
    import sqlite3

    out["sqlite"] = sqlite3.sqlite_version
    if postgres_url:
        try:
            from sqlalchemy import create_engine, text

            engine = create_engine(_psycopg(postgres_url))
            with engine.connect() as conn:
                out["postgresql server"] = conn.execute(text("SHOW server_version")).scalar()
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            out["postgresql server"] = f"unreachable ({type(exc).__name__})"
    out["git commit"] = git_commit()
    return out


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "plugins", "include", "dags", "alembic"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return commit + (" (+ uncommitted changes in the package)" if dirty else "")


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- scratch databases


def _psycopg(url: str) -> str:
    from streamflow.db.url import normalize_url

    return normalize_url(url)


def postgres_admin_url() -> str:
    return os.environ.get("STREAMFLOW_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def postgres_available(url: str | None = None) -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(_psycopg(url or postgres_admin_url()), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def scratch_database(kind: str, workdir: Path, prefix: str = "sf_bench") -> Iterator[str]:
    """A fresh streamflow database (migrated to head) of ``kind`` (sqlite|postgresql); dropped after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from streamflow.db import migrate
    from streamflow.db.engine import dispose_engines, make_engine

    if kind == "sqlite":
        path = workdir / f"{prefix}_{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        try:
            yield url
        finally:
            dispose_engines()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    base = make_url(_psycopg(postgres_admin_url()))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for benchmark subprocesses: the repo on sys.path, nothing from the shell's Airflow."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), str(REPO_ROOT / "plugins"), env.get("PYTHONPATH")]))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def python() -> str:
    return sys.executable
