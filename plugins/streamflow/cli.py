"""The ``streamflow`` command (also ``python -m streamflow``), DESIGN §8.

Exit codes: 0 success, 1 an operation failed (database unreachable, …), 2 bad input (nothing
was written).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from streamflow.errors import ConfigurationError, StreamflowError

log = logging.getLogger("streamflow.cli")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DATA_DIR = Path(__file__).resolve().parents[2] / "data"


# Terminal escape sequences (CSI such as ESC[2J, OSC such as hyperlinks and titles, two-byte ESC x)
# and the other C0/C1 control characters, tab and newline aside.
_TERMINAL_CONTROL = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -~]?)|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def echo(message: str = "", *, file=None) -> None:
    """Command output (not logging): results to stdout, problems to stderr. Text from the database
    or the command line is printed inert: escape sequences and control characters are dropped."""
    (file or sys.stdout).write(f"{_TERMINAL_CONTROL.sub('', str(message))}\n")


class BadInput(Exception):
    """Raised for user mistakes; main() prints the message and exits 2."""


def _parse_when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date or date-time (e.g. 2020-01-01)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # a bare date/time on the command line means UTC
    try:
        return parsed.astimezone(timezone.utc)  # the range (EARLIEST_START … now) is validation's rule
    except OverflowError:
        from streamflow.configurations import EARLIEST_START

        raise argparse.ArgumentTypeError(
            f"{value!r} is out of range (start dates run from {EARLIEST_START.date().isoformat()} to now)"
        ) from None


def _session():
    from streamflow.db.engine import session_scope

    return session_scope()


# --------------------------------------------------------------------------- db


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from streamflow.db import migrate
    from streamflow.db.engine import make_engine

    engine = make_engine()
    migrate.upgrade(engine, args.revision)
    echo(f"streamflow database at {engine.url.render_as_string(hide_password=True)}: "
          f"revision {migrate.current_revision(engine)}")
    engine.dispose()
    return EXIT_OK


def cmd_db_load_reference(args: argparse.Namespace) -> int:
    from streamflow.reference import load_reference

    with _session() as session:
        report = load_reference(session, Path(args.data_dir))
    for message in report.bad_rows:
        echo(f"skipped: {message}", file=sys.stderr)
    echo(report.summary())
    return EXIT_OK


def cmd_db_build_reference(args: argparse.Namespace) -> int:
    from streamflow.reference import build_reference

    report = build_reference(Path(args.upstream_dir), Path(args.data_dir))
    echo(report.summary())
    return EXIT_OK


# --------------------------------------------------------------------------- stations


def _filters(args: argparse.Namespace) -> dict:
    return {"state": args.state, "huc": args.huc, "text": args.text, "agency": args.agency}


def _describe_filters(args: argparse.Namespace) -> str:
    given = {"state": args.state, "HUC": args.huc, "text": args.text, "agency": args.agency}
    return ", ".join(f"{name} {value!r}" for name, value in given.items() if value and value.strip())


def _search(session, args: argparse.Namespace) -> tuple[list, int]:
    """The stations matching the search filters (at most ``--limit``) and how many match in all."""
    from streamflow.db.stations import count_master_stations, search_master_stations

    rows = search_master_stations(session, **_filters(args), limit=args.limit)
    matched = len(rows) if len(rows) < args.limit else count_master_stations(session, **_filters(args))
    return rows, matched


def _nothing_matches(session, args: argparse.Namespace) -> str:
    from streamflow.db.stations import count_master_stations

    message = f"no station in the master list matches {_describe_filters(args)}"
    if count_master_stations(session) == 0:
        message += " (the master list is empty: run `streamflow db load-reference`)"
    return message


def cmd_stations_search(args: argparse.Namespace) -> int:
    with _session() as session:
        rows, matched = _search(session, args)
        if args.json:
            echo(json.dumps([_station_dict(r) for r in rows], indent=2))
        else:
            echo(f"{'station':<16}{'agency':<7}{'state':<6}{'huc':<10}name")
            for r in rows:
                echo(f"{r.station_number:<16}{r.agency or '':<7}{r.state_code or '':<6}{r.huc_code or '':<10}"
                     f"{r.station_name}")
        if not rows:
            echo(_nothing_matches(session, args), file=sys.stderr)
        elif matched > len(rows):
            echo(f"{len(rows)} of {matched} matching stations shown (ordered by station number); "
                 "raise --limit to see more", file=sys.stderr)
        else:
            echo(f"{len(rows)} station(s)", file=sys.stderr)
    return EXIT_OK


def _station_dict(r) -> dict:
    return {
        "station_number": r.station_number, "station_name": r.station_name, "agency": r.agency,
        "state_code": r.state_code, "huc_code": r.huc_code, "latitude": r.latitude, "longitude": r.longitude,
    }


# --------------------------------------------------------------------------- config


def _schedule(value: str, cron: str | None) -> tuple[str, str | None]:
    from streamflow.vocabulary import ScheduleType

    try:
        return ScheduleType(value).value, cron
    except ValueError:
        return ScheduleType.CRON.value, value  # anything else is taken as a cron expression


def _create(session, row: dict, *, require_listed: bool) -> int:
    from streamflow.configurations import parse_configuration
    from streamflow.db import repository as repo

    parse_configuration(row)  # raises ConfigurationError listing every problem
    if require_listed:
        numbers = [s["station_number"] for s in row["stations"]]
        listed = repo.get_master_stations(session, numbers)
        unknown = [n for n in numbers if n not in listed]
        if unknown:
            raise BadInput(
                f"unknown station(s) {', '.join(unknown)}: not in the master station list "
                "(run `streamflow db load-reference`, check the id, or pass --allow-unlisted)"
            )
    config = repo.create_configuration(session, **row)
    return config.id


def cmd_config_create(args: argparse.Namespace) -> int:
    schedule_type, schedule_value = _schedule(args.schedule, args.schedule_value)
    with _session() as session:
        stations = [{"station_number": s, "agency": args.agency} for s in args.station or []]
        if args.state or args.huc or args.text:
            found, matched = _search(session, args)
            if not found:
                raise BadInput(f"{_nothing_matches(session, args)}; nothing created")
            if matched > len(found):
                echo(f"the search matched {matched} stations; the first {len(found)} by station number are "
                     "used (--limit)", file=sys.stderr)
            stations += [
                {"station_number": r.station_number, "agency": r.agency}
                for r in found
                if r.station_number not in {s["station_number"] for s in stations}
            ]
        if not stations:
            raise BadInput("no stations: give --station ID (repeatable) or search filters (--state/--huc/--text)")
        row = {
            "name": args.name,
            "description": args.description,
            "data_type": args.data_type,
            "data_strategy": args.strategy,
            "pull_start_date": args.start,
            "schedule_type": schedule_type,
            "schedule_value": schedule_value,
            "is_enabled": not args.disabled,
            "stations": stations,
        }
        config_id = _create(session, row, require_listed=not args.allow_unlisted)
    echo(f"created configuration {config_id} (DAG streamflow_config_{config_id}) with {len(stations)} station(s)")
    return EXIT_OK


def cmd_config_examples(args: argparse.Namespace) -> int:
    from streamflow.db import repository as repo
    from streamflow.examples import EXAMPLES

    with _session() as session:
        existing = {c.name for c in repo.list_configurations(session)}
        created = []
        for example in EXAMPLES:
            if example["name"] in existing:
                continue
            created.append(_create(session, dict(example), require_listed=False))
    echo(f"created {len(created)} example configuration(s)" + (f": {created}" if created else " (all present)"))
    return EXIT_OK


def cmd_config_list(args: argparse.Namespace) -> int:
    from streamflow.db import repository as repo

    with _session() as session:
        configs = repo.list_configurations(session)
        if args.json:
            echo(json.dumps([_config_dict(c) for c in configs], indent=2, default=str))
            return EXIT_OK
        echo(f"{'id':>4}  {'enabled':<8}{'data_type':<17}{'strategy':<10}{'schedule':<16}{'stations':>8}  name")
        for c in configs:
            schedule = c.schedule_value or c.schedule_type
            echo(f"{c.id:>4}  {'yes' if c.is_enabled else 'no':<8}{c.data_type:<17}{c.data_strategy:<10}"
                  f"{schedule:<16}{len(c.stations):>8}  {c.name}")
    return EXIT_OK


def _config_dict(c) -> dict:
    return {
        "id": c.id, "dag_id": f"streamflow_config_{c.id}", "name": c.name, "description": c.description,
        "data_type": c.data_type, "data_strategy": c.data_strategy, "pull_start_date": c.pull_start_date,
        "schedule_type": c.schedule_type, "schedule_value": c.schedule_value, "is_enabled": c.is_enabled,
        "last_run_at": c.last_run_at, "next_run_at": c.next_run_at,
        "stations": [{"station_number": s.station_number, "agency": s.agency, "station_name": s.station_name}
                     for s in c.stations],
    }


def cmd_config_show(args: argparse.Namespace) -> int:
    from streamflow.db import repository as repo

    with _session() as session:
        config = repo.get_configuration(session, args.id)
        if config is None:
            raise BadInput(f"configuration {args.id} does not exist")
        data = _config_dict(config)
        data["progress"] = {k: v for k, v in repo.get_progress_map(session, config.id).items()}
        logs = repo.get_pull_logs(session, config.id)[-5:]
        data["recent_runs"] = [
            {"dag_run_id": g.dag_run_id, "status": g.status, "start_time": g.start_time, "end_time": g.end_time,
             "records_processed": g.records_processed, "stations_failed": g.stations_failed,
             "error_message": g.error_message}
            for g in logs
        ]
    echo(json.dumps(data, indent=2, default=str))
    return EXIT_OK


def _set_enabled(args: argparse.Namespace, enabled: bool) -> int:
    from streamflow.db import repository as repo

    with _session() as session:
        if not repo.set_configuration_enabled(session, args.id, enabled):
            raise BadInput(f"configuration {args.id} does not exist")
    echo(f"configuration {args.id} {'enabled' if enabled else 'disabled'}")
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from streamflow.vocabulary import DataStrategy, DataType

    parser = argparse.ArgumentParser(prog="streamflow", description="Streamflow DataOps command line")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    sub = parser.add_subparsers(dest="group", required=True)

    db = sub.add_parser("db", help="database schema and reference data").add_subparsers(dest="command", required=True)
    p = db.add_parser("upgrade", help="migrate the streamflow database to the newest schema (Alembic)")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser("load-reference", help="load station mappings and the master station list (idempotent)")
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.set_defaults(func=cmd_db_load_reference)
    p = db.add_parser("build-reference", help="rebuild the reference CSVs in data/ from data/upstream/")
    p.add_argument("--upstream-dir", default=str(DATA_DIR / "upstream"))
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.set_defaults(func=cmd_db_build_reference)

    def search_filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state", help="two-letter state or province code, e.g. CO or BC")
        p.add_argument("--huc", help="hydrologic unit code prefix of 2-12 digits (even), e.g. 14 (region) or 1401")
        p.add_argument("--text", help="text in the station name or number")
        p.add_argument("--agency", choices=["USGS", "EC"])
        p.add_argument("--limit", type=int, default=50, help="show at most this many (says how many matched)")

    stations = sub.add_parser("stations", help="the master station list").add_subparsers(dest="command", required=True)
    p = stations.add_parser("search", help="search the master station list")
    search_filters(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stations_search)

    config = sub.add_parser("config", help="pull configurations (one DAG each)").add_subparsers(
        dest="command", required=True
    )
    p = config.add_parser("create", help="create a pull configuration")
    p.add_argument("--name", required=True, help="at most 100 characters")
    p.add_argument("--description", help="at most 10,000 characters")
    p.add_argument("--data-type", required=True, choices=[d.value for d in DataType])
    p.add_argument("--strategy", default="append", choices=[s.value for s in DataStrategy])
    p.add_argument("--start", required=True, type=_parse_when, help="pull_start_date, ISO 8601 (UTC if no offset), from 1850-01-01 to now")
    p.add_argument("--schedule", default="daily",
                   help="hourly | daily | weekly | manual | a five-field cron expression such as '0 6 * * *'")
    p.add_argument("--schedule-value", help="cron expression that overrides the schedule type")
    p.add_argument("--station", action="append", help="station id (repeatable)")
    p.add_argument("--agency-of-stations", dest="agency", choices=["USGS", "EC"],
                   help="agency of the --station ids (inferred from the id shape when omitted)")
    p.add_argument("--state", help="add the stations of this state/province (search filter)")
    p.add_argument("--huc", help="add the stations of this HUC prefix (search filter)")
    p.add_argument("--text", help="add stations whose name or number contains this text (search filter)")
    p.add_argument("--limit", type=int, default=50, help="at most this many stations from the search filters")
    p.add_argument("--disabled", action="store_true", help="create it disabled")
    p.add_argument("--allow-unlisted", action="store_true", help="accept stations missing from the master list")
    p.set_defaults(func=cmd_config_create)
    p = config.add_parser("examples", help="create the example configurations that are not there yet")
    p.set_defaults(func=cmd_config_examples)
    p = config.add_parser("list", help="list configurations")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config_list)
    for name, func, text in (
        ("show", cmd_config_show, "show one configuration with its progress and recent runs"),
        ("enable", lambda a: _set_enabled(a, True), "enable a configuration (its DAG gets its schedule back)"),
        ("disable", lambda a: _set_enabled(a, False), "disable a configuration (its DAG stays, unscheduled)"),
    ):
        p = config.add_parser(name, help=text)
        p.add_argument("id", type=int)
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "agency"):
        args.agency = None
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (BadInput, ConfigurationError) as exc:
        echo(f"streamflow: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StreamflowError as exc:
        echo(f"streamflow: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - a clear one-line message instead of a traceback
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            echo(f"streamflow: database error: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    raise SystemExit(main())
