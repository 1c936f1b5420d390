"""The ``streamflow`` command (also ``python -m streamflow``), docs/architecture.md#cli.

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


def _existing(session, config_id: int):
    from streamflow.db import repository as repo

    config = repo.get_configuration(session, config_id)
    if config is None:
        raise BadInput(f"configuration {config_id} does not exist")
    return config


def _row_of(config) -> dict:
    """A stored configuration as the row validation reads (``streamflow.configurations``)."""
    return {
        "id": config.id, "name": config.name, "description": config.description, "data_type": config.data_type,
        "data_strategy": config.data_strategy, "pull_start_date": config.pull_start_date,
        "schedule_type": config.schedule_type, "schedule_value": config.schedule_value,
        "is_enabled": config.is_enabled,
        "stations": [{"station_number": s.station_number, "agency": s.agency, "station_name": s.station_name}
                     for s in config.stations],
    }


def _require_listed(session, numbers: Sequence[str]) -> None:
    from streamflow.db import repository as repo

    listed = repo.get_master_stations(session, numbers)
    unknown = [n for n in numbers if n not in listed]
    if unknown:
        raise BadInput(
            f"unknown station(s) {', '.join(unknown)}: not in the master station list "
            "(run `streamflow db load-reference`, check the id, or pass --allow-unlisted)"
        )


def _unmapped_message(session, config) -> str | None:
    """Why a forecast configuration's stations would be skipped on every run (no NOAA mapping), or None."""
    from streamflow.db.configurations import forecast_mapping_targets, unmapped_forecast_stations

    kind = str(config.data_type)
    pairs = [(s.station_number, s.agency.value) for s in config.stations]
    missing = unmapped_forecast_stations(session, kind, pairs)
    if not missing:
        return None
    shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
    return (
        f"{kind} needs a {' or '.join(forecast_mapping_targets(kind))} mapping in station_mappings for every "
        f"station; {len(missing)} of {len(config.stations)} station(s) have none, so every run would skip them: "
        f"{shown} (load the mappings with `streamflow db load-reference`, add the rows, or remove the stations)"
    )


def _checked(session, row: dict, *, listed: Sequence[str], allow_unmapped: bool):
    """What create and update check before writing: the factory's validation (every problem at
    once), that the ``listed`` station ids are in the master list, and that a forecast
    configuration's stations can reach NOAA (refused unless ``allow_unmapped``, then a warning)."""
    from streamflow.configurations import parse_configuration

    config = parse_configuration(row)  # raises ConfigurationError listing every problem
    if listed:
        _require_listed(session, listed)
    if message := _unmapped_message(session, config):
        if not allow_unmapped:
            raise BadInput(f"{message}; nothing written (pass --allow-unmapped to accept such stations)")
        echo(f"streamflow: warning: {message}; accepted because of --allow-unmapped", file=sys.stderr)
    return config


def _create(session, row: dict, *, require_listed: bool, allow_unmapped: bool) -> int:
    from streamflow.db import repository as repo

    listed = [s["station_number"] for s in row["stations"]] if require_listed else []
    _checked(session, row, listed=listed, allow_unmapped=allow_unmapped)
    config = repo.create_configuration(session, **row)
    return config.id


def _searched_stations(session, args: argparse.Namespace, present: set[str], *, nothing: str) -> list[dict]:
    """The stations the search filters find (those not already ``present``); [] without filters."""
    if not (args.state or args.huc or args.text):
        return []
    found, matched = _search(session, args)
    if not found:
        raise BadInput(f"{_nothing_matches(session, args)}; {nothing}")
    if matched > len(found):
        echo(f"the search matched {matched} stations; the first {len(found)} by station number are "
             "used (--limit)", file=sys.stderr)
    return [{"station_number": r.station_number, "agency": r.agency} for r in found if r.station_number not in present]


def cmd_config_create(args: argparse.Namespace) -> int:
    schedule_type, schedule_value = _schedule(args.schedule, args.schedule_value)
    with _session() as session:
        stations = [{"station_number": s, "agency": args.agency} for s in args.station or []]
        present = {s["station_number"] for s in stations}
        stations += _searched_stations(session, args, present, nothing="nothing created")
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
        config_id = _create(session, row, require_listed=not args.allow_unlisted, allow_unmapped=args.allow_unmapped)
    echo(f"created configuration {config_id} (DAG streamflow_config_{config_id}) with {len(stations)} station(s)")
    return EXIT_OK


def _changed_fields(args: argparse.Namespace) -> dict:
    """The columns ``config update`` was asked to change."""
    changes = {
        key: value
        for key, value in (("name", args.name), ("data_type", args.data_type), ("data_strategy", args.strategy),
                           ("pull_start_date", args.start), ("is_enabled", args.enabled))
        if value is not None
    }
    if args.description is not None:
        changes["description"] = args.description or None  # --description "" clears it
    if args.schedule is not None:
        changes["schedule_type"], changes["schedule_value"] = _schedule(args.schedule, args.schedule_value)
    elif args.schedule_value is not None:
        changes["schedule_value"] = args.schedule_value.strip() or None
    return changes


def _update_warnings(session, config, changes: dict) -> list[str]:
    """What an update changes that smart append will not act on by itself."""
    from streamflow.db import repository as repo

    progress = repo.get_progress_map(session, config.id)
    if not progress:
        return []
    warnings = []
    if changes.get("data_type", config.data_type) != config.data_type:
        warnings.append(
            f"the progress of {len(progress)} station(s) was recorded for {config.data_type}; append runs of "
            f"{changes['data_type']} resume from it. Trigger a run with full_refresh=true to pull the new type "
            "from pull_start_date (or clone the configuration instead, which starts without progress)"
        )
    start = changes.get("pull_start_date")
    if start is not None and config.pull_start_date is not None and start < config.pull_start_date:
        warnings.append(
            "pull_start_date moved earlier, but append runs resume from each station's progress: trigger a run "
            "with full_refresh=true to pull the earlier period"
        )
    return warnings


def cmd_config_update(args: argparse.Namespace) -> int:
    from streamflow.db.configurations import update_configuration

    with _session() as session:
        config = _existing(session, args.id)
        row = _row_of(config)
        changes = _changed_fields(args)
        present = [s["station_number"] for s in row["stations"]]
        removed = list(dict.fromkeys(args.remove_station or []))
        if missing := [n for n in removed if n not in present]:
            raise BadInput(f"configuration {args.id} has no station(s) {', '.join(missing)}; nothing updated")
        stations = [s for s in row["stations"] if s["station_number"] not in removed]
        explicit = []
        for number in args.add_station or []:
            if number in present and number not in removed:
                echo(f"station {number} is already in configuration {args.id}", file=sys.stderr)
                continue
            explicit.append(number)
        added = [{"station_number": number, "agency": args.agency} for number in explicit]
        kept = {s["station_number"] for s in stations + added}
        added += _searched_stations(session, args, kept, nothing="nothing updated")
        if not changes and not removed and not added:
            raise BadInput(f"nothing to update in configuration {args.id}: give a field or stations to change "
                           "(`streamflow config update --help`)")
        new_row = {**row, **changes, "stations": stations + added}
        listed = [] if args.allow_unlisted else explicit
        _checked(session, new_row, listed=listed, allow_unmapped=args.allow_unmapped)
        warnings = _update_warnings(session, config, changes)
        update_configuration(session, args.id, stations=new_row["stations"] if removed or added else None, **changes)
    what = sorted(changes)
    if added or removed:
        what.append(f"stations +{len(added)} -{len(removed)} (now {len(new_row['stations'])})")
    echo(f"updated configuration {args.id} (DAG streamflow_config_{args.id}): {', '.join(what)}; "
         "the DAG changes at the DAG processor's next parse")
    if removed:
        echo("the progress of removed stations is kept: adding one back resumes where it stopped")
    for warning in warnings:
        echo(f"streamflow: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def cmd_config_clone(args: argparse.Namespace) -> int:
    from streamflow.configurations import NAME_MAX, validate_configuration
    from streamflow.db.configurations import clone_configuration

    with _session() as session:
        source = _existing(session, args.id)
        name = args.name if args.name is not None else f"Copy of {source.name}"[:NAME_MAX]
        if problems := _problems(validate_configuration({**_row_of(source), "id": None, "name": name})):
            raise BadInput(f"the copy of configuration {args.id} would be invalid: {'; '.join(problems)}; "
                           "nothing created")
        copy = clone_configuration(session, args.id, name=name)
        copy_id = copy.id
    echo(f"cloned configuration {args.id} into configuration {copy_id} {name!r} (DAG streamflow_config_{copy_id}), "
         f"disabled: change it with `streamflow config update {copy_id} …`, then `streamflow config enable {copy_id}`")
    return EXIT_OK


def _confirmed(question: str) -> bool:
    """Ask on the terminal; a non-terminal stdin never confirms anything (use --yes)."""
    if not sys.stdin or not sys.stdin.isatty():
        raise BadInput("refusing to delete without confirmation: stdin is not a terminal; add --yes to confirm")
    sys.stderr.write(f"{_TERMINAL_CONTROL.sub('', question)} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


def cmd_config_delete(args: argparse.Namespace) -> int:
    from streamflow.configurations import dag_id_for
    from streamflow.db.configurations import configuration_history, delete_configuration, rows_stored

    with _session() as session:
        config = _existing(session, args.id)
        name, dag_id, stations = config.name, dag_id_for(config.id), len(config.stations)
        history = configuration_history(session, config.id)
        per_station = rows_stored(session, [s.station_number for s in config.stations])
        stored = sum(sum(kinds.values()) for kinds in per_station.values())
    fate = "are deleted with it (--purge)" if args.purge else "stay"
    echo(f"configuration {args.id} {name!r} (DAG {dag_id}), {stations} station(s):")
    echo(f"- its row and station list are deleted; its progress ({history.progress_rows} pull_station_progress "
         f"row(s)) and run log ({history.pull_log_rows} data_pull_logs row(s)) {fate}")
    echo(f"- the observations and forecasts stored for its stations ({stored:,} row(s)) stay: they belong to the "
         "stations, are shared with other configurations, and no configuration delete removes them")
    echo(f"- Airflow: the DAG {dag_id} disappears after the DAG processor's next parse; its run history stays in "
         f"Airflow's metadata database until `airflow dags delete {dag_id}`")
    if not history.empty and not args.purge:
        raise BadInput(
            f"configuration {args.id} has progress and run log rows, which reference it and cannot outlive it: "
            f"add --purge to delete them with it, or keep everything with `streamflow config disable {args.id}`; "
            "nothing deleted"
        )
    question = f"delete configuration {args.id} {name!r}{' and purge its history' if args.purge else ''}?"
    if not args.yes and not _confirmed(question):
        echo("not confirmed; nothing deleted", file=sys.stderr)
        return EXIT_FAILED
    with _session() as session:
        if not delete_configuration(session, args.id):
            raise BadInput(f"configuration {args.id} does not exist")
    echo(f"deleted configuration {args.id}" + (" with its progress and run log" if args.purge else ""))
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
            created.append(_create(session, dict(example), require_listed=False, allow_unmapped=True))
    echo(f"created {len(created)} example configuration(s)" + (f": {created}" if created else " (all present)"))
    return EXIT_OK


def _verdicts(session, config_id: int | None = None) -> dict:
    """{id: PullConfig | InvalidConfig}: the factory's validation of the rows the factory reads."""
    from streamflow.configurations import validate_configuration
    from streamflow.db import repository as repo

    return {row["id"]: validate_configuration(row) for row in repo.load_configuration_rows(session, config_id)}


def _problems(verdict) -> list[str]:
    return list(getattr(verdict, "errors", ()))


def _cut(text: str | None, width: int) -> str:
    text = _TERMINAL_CONTROL.sub("", text or "")
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _station_names(stations, width: int = 80) -> str:
    """Station numbers with their names, as many as fit in ``width``, then how many more."""
    parts: list[str] = []
    for position, s in enumerate(stations):
        part = f"{s.station_number} {_cut(s.station_name, 22)}".strip()
        rest = len(stations) - position - 1
        tail = f", +{rest} more" if rest else ""
        if parts and len(", ".join([*parts, part]) + tail) > width:
            return ", ".join(parts) + f", +{len(stations) - position} more"
        parts.append(part)
    return ", ".join(parts)


def cmd_config_list(args: argparse.Namespace) -> int:
    from streamflow.db import repository as repo

    with _session() as session:
        configs = repo.list_configurations(session)
        verdicts = _verdicts(session)
        if args.json:
            listed = [{**_config_dict(c), "valid": not _problems(verdicts.get(c.id)),
                       "problems": _problems(verdicts.get(c.id))} for c in configs]
            echo(json.dumps(listed, indent=2, default=str))
            return EXIT_OK
        echo(f"{'id':>4}  {'enabled':<8}{'valid':<6}{'data_type':<17}{'strategy':<10}{'schedule':<16}"
             f"{'name':<41}stations")
        for c in configs:
            schedule = c.schedule_value or c.schedule_type
            valid = "no" if _problems(verdicts.get(c.id)) else "yes"
            echo(f"{c.id:>4}  {'yes' if c.is_enabled else 'no':<8}{valid:<6}{c.data_type:<17}{c.data_strategy:<10}"
                 f"{_cut(schedule, 15):<16}{_cut(c.name, 40):<41}{len(c.stations)}: {_station_names(c.stations)}")
        if invalid := sorted(i for i, v in verdicts.items() if _problems(v)):
            echo(f"{len(invalid)} invalid configuration(s): see `streamflow config validate`", file=sys.stderr)
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


def _when(value: datetime | None, never: str = "never") -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else never


def cmd_config_show(args: argparse.Namespace) -> int:
    from streamflow.db import repository as repo

    with _session() as session:
        config = _existing(session, args.id)
        verdict = _verdicts(session, config.id).get(config.id)
        data = _config_dict(config)
        data["valid"], data["problems"] = not _problems(verdict), _problems(verdict)
        progress = repo.get_progress_map(session, config.id)
        data["progress"] = dict(progress)
        logs = repo.get_pull_logs(session, config.id)[-5:]
        data["recent_runs"] = [
            {"dag_run_id": g.dag_run_id, "status": g.status, "start_time": g.start_time, "end_time": g.end_time,
             "records_processed": g.records_processed, "stations_failed": g.stations_failed,
             "error_message": g.error_message}
            for g in logs
        ]
        unmapped = _unmapped_message(session, verdict) if data["valid"] else None
    if args.json:
        echo(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    schedule = data["schedule_value"] or data["schedule_type"]
    facts = [
        ("DAG", data["dag_id"]),
        ("valid", "yes" if data["valid"] else f"no, {len(data['problems'])} problem(s)"),
        ("enabled", "yes" if data["is_enabled"] else "no (the DAG has no schedule)"),
        ("data type", data["data_type"]),
        ("strategy", data["data_strategy"]),
        ("start", _when(data["pull_start_date"], "-")),
        ("schedule", schedule),
        ("last run", _when(data["last_run_at"])),
        ("next run", _when(data["next_run_at"], "-")),
        ("description", data["description"] or "-"),
    ]
    echo(f"configuration {data['id']}: {data['name']}")
    for label, value in facts:
        echo(f"  {label:<13}{value}")
    for problem in data["problems"]:
        echo(f"    - {problem}")
    if unmapped:
        echo(f"  warning      {unmapped}")
    echo(f"stations ({len(data['stations'])}); progress = the latest instant stored")
    for s in data["stations"]:
        echo(f"  {s['station_number']:<16}{s['agency'] or '':<6}{_cut(s['station_name'], 48):<50}"
             f"progress {_when(progress.get(s['station_number']))}")
    echo(f"recent runs ({len(data['recent_runs'])}, oldest first)" if data["recent_runs"] else "no runs recorded")
    for g in data["recent_runs"]:
        echo(f"  {_cut(g['dag_run_id'], 44):<46}{g['status']:<9}{_when(g['start_time'])}  "
             f"records {g['records_processed'] or 0}, stations failed {g['stations_failed'] or 0}")
        if g["error_message"]:
            echo(f"    {_cut(g['error_message'], 200)}")
    return EXIT_OK


def cmd_config_validate(args: argparse.Namespace) -> int:
    with _session() as session:
        verdicts = _verdicts(session, args.id)
        if args.id is not None and not verdicts:
            raise BadInput(f"configuration {args.id} does not exist")
        warnings = {i: _unmapped_message(session, v) for i, v in verdicts.items() if not _problems(v)}
    for config_id, verdict in verdicts.items():
        problems = _problems(verdict)
        if problems:
            echo(f"configuration {config_id} {verdict.name!r}: invalid, {len(problems)} problem(s):")
            for problem in problems:
                echo(f"  - {problem}")
        else:
            echo(f"configuration {config_id} {verdict.name!r}: valid")
        if warnings.get(config_id):
            echo(f"  warning: {warnings[config_id]}")
    invalid = sum(1 for v in verdicts.values() if _problems(v))
    if invalid:
        echo(f"streamflow: error: {invalid} of {len(verdicts)} configuration(s) invalid: their DAGs are tagged "
             "`invalid` and fail with these messages; fix them with `streamflow config update`", file=sys.stderr)
        return EXIT_BAD_INPUT
    echo(f"{len(verdicts)} configuration(s) valid", file=sys.stderr)
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

    def fields(p: argparse.ArgumentParser, *, create: bool) -> None:
        """The columns create sets and update changes (update: only what is given)."""
        p.add_argument("--name", required=create, help="at most 100 characters")
        p.add_argument("--description", help="at most 10,000 characters" + ("" if create else "; '' clears it"))
        p.add_argument("--data-type", required=create, choices=[d.value for d in DataType])
        p.add_argument("--strategy", default="append" if create else None, choices=[s.value for s in DataStrategy])
        p.add_argument("--start", required=create, type=_parse_when,
                       help="pull_start_date, ISO 8601 (UTC if no offset), from 1850-01-01 to now")
        p.add_argument("--schedule", default="daily" if create else None,
                       help="hourly | daily | weekly | manual | a five-field cron expression such as '0 6 * * *'")
        p.add_argument("--schedule-value", help="cron expression that overrides the schedule type")
        p.add_argument("--agency-of-stations", dest="agency", choices=["USGS", "EC"],
                       help="agency of the station ids given (inferred from the id shape when omitted)")
        p.add_argument("--state", help="add the stations of this state/province (search filter)")
        p.add_argument("--huc", help="add the stations of this HUC prefix (search filter)")
        p.add_argument("--text", help="add stations whose name or number contains this text (search filter)")
        p.add_argument("--limit", type=int, default=50, help="at most this many stations from the search filters")
        p.add_argument("--allow-unlisted", action="store_true", help="accept stations missing from the master list")
        p.add_argument("--allow-unmapped", action="store_true",
                       help="accept forecast stations without a NOAA mapping (every run would skip them)")

    p = config.add_parser("create", help="create a pull configuration")
    fields(p, create=True)
    p.add_argument("--station", action="append", help="station id (repeatable)")
    p.add_argument("--disabled", action="store_true", help="create it disabled")
    p.set_defaults(func=cmd_config_create)
    p = config.add_parser(
        "update", help="change a configuration: any field, stations added or removed (validated like create)"
    )
    p.add_argument("id", type=int)
    fields(p, create=False)
    p.add_argument("--add-station", action="append", metavar="ID", help="add this station (repeatable)")
    p.add_argument("--remove-station", action="append", metavar="ID", help="remove this station (repeatable)")
    enabled = p.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_const", const=True)
    enabled.add_argument("--disable", dest="enabled", action="store_const", const=False)
    p.set_defaults(func=cmd_config_update)
    p = config.add_parser("clone", help="copy a configuration and its stations (the copy is disabled)")
    p.add_argument("id", type=int)
    p.add_argument("--name", help="the copy's name (default: 'Copy of <name>')")
    p.set_defaults(func=cmd_config_clone)
    p = config.add_parser(
        "delete", help="delete a configuration (its DAG goes at the next parse); asks for confirmation",
        description="Observations and forecasts stay (they belong to the stations). Its progress and run log "
                    "stay unless --purge; a configuration that has them is only deleted with --purge.",
    )
    p.add_argument("id", type=int)
    p.add_argument("--purge", action="store_true",
                   help="also delete its pull_station_progress and data_pull_logs rows")
    p.add_argument("--yes", action="store_true", help="do not ask (needed when stdin is not a terminal)")
    p.set_defaults(func=cmd_config_delete)
    p = config.add_parser("validate", help="the DAG factory's validation: exit 0 when valid, 2 listing every problem")
    p.add_argument("id", type=int, nargs="?", help="one configuration (default: all)")
    p.set_defaults(func=cmd_config_validate)
    p = config.add_parser("examples", help="create the example configurations that are not there yet")
    p.set_defaults(func=cmd_config_examples)
    p = config.add_parser("list", help="list configurations with their validity and stations")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config_list)
    p = config.add_parser("show", help="one configuration: a summary with progress and recent runs")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config_show)
    for name, func, text in (
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
