"""discharge_observations.station_id: on PostgreSQL, checked once per statement instead of per row.

Reason: the declarative foreign key's per-row RI trigger cost about as much per written row as the
COPY of the row itself (docs/benchmarks.md §1). On PostgreSQL it is replaced by statement-level
triggers over transition tables that keep its guarantees (ADR 0005): inserts, COPY and updates of
discharge_observations check all their station ids in one query after locking the referenced
stations FOR KEY SHARE (the lock the per-row check takes); deleting or re-keying a station that
still has observations fails (NO ACTION, as before), and so does truncating stations alone.
SQLite keeps the declarative foreign key (nothing changes there).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FK_NAME = "fk_discharge_observations_station_id_stations"

# At most this many ids are named in an error message; the rest are counted.
_LISTED = 10


def _id_list(array: str) -> str:
    """SQL for '1, 2, 3' from an int array: the first _LISTED ids, then ' (and N more)'.

    Messages are built with || rather than format(): a '%' would be doubled in `alembic --sql`.
    """
    return (
        f"(array_to_string({array}[1:{_LISTED}], ', ')"
        f" || CASE WHEN cardinality({array}) > {_LISTED}"
        f" THEN ' (and ' || (cardinality({array}) - {_LISTED}) || ' more)' ELSE '' END)"
    )


OBSERVATIONS_CHECK = f"""
CREATE FUNCTION streamflow_observations_station_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids integer[];
    missing integer[];
BEGIN
    SELECT array_agg(d.station_id) INTO ids
      FROM (SELECT DISTINCT n.station_id FROM new_rows n WHERE n.station_id IS NOT NULL) d;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    -- The lock the per-row foreign-key check takes: a concurrent DELETE (or key UPDATE) of one
    -- of these stations waits for this transaction, and this one waits for a pending one.
    PERFORM 1 FROM stations s WHERE s.id = ANY (ids) FOR KEY SHARE OF s;
    SELECT array_agg(i ORDER BY i) INTO missing
      FROM unnest(ids) AS i
     WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = i);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = 'discharge_observations: station_id ' || {_id_list("missing")}
                      || ' not present in stations',
            TABLE = 'discharge_observations',
            CONSTRAINT = '{FK_NAME}';
    END IF;
    RETURN NULL;
END
$$
"""

STATIONS_CHECK = f"""
CREATE FUNCTION streamflow_stations_reference_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    referenced integer[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- Fired after every table of the TRUNCATE is emptied: truncating both tables is fine.
        IF EXISTS (SELECT 1 FROM discharge_observations) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'foreign_key_violation',
                MESSAGE = 'stations: truncated while discharge_observations still has rows',
                TABLE = 'stations',
                CONSTRAINT = '{FK_NAME}';
        END IF;
        RETURN NULL;
    END IF;
    -- NO ACTION: an id that is gone after the statement must not be referenced any more.
    SELECT array_agg(g.id ORDER BY g.id) INTO referenced
      FROM (SELECT DISTINCT o.id FROM old_rows o
             WHERE NOT EXISTS (SELECT 1 FROM stations s WHERE s.id = o.id)) g
     WHERE EXISTS (SELECT 1 FROM discharge_observations d WHERE d.station_id = g.id);
    IF referenced IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = 'stations: id ' || {_id_list("referenced")}
                      || ' is still referenced by discharge_observations',
            TABLE = 'stations',
            CONSTRAINT = '{FK_NAME}';
    END IF;
    RETURN NULL;
END
$$
"""

# (name, table, timing and event, referencing clause, function)
TRIGGERS = (
    ("streamflow_observations_station_check_insert", "discharge_observations", "AFTER INSERT",
     "REFERENCING NEW TABLE AS new_rows", "streamflow_observations_station_check"),
    ("streamflow_observations_station_check_update", "discharge_observations", "AFTER UPDATE",
     "REFERENCING NEW TABLE AS new_rows", "streamflow_observations_station_check"),
    ("streamflow_stations_reference_check_delete", "stations", "AFTER DELETE",
     "REFERENCING OLD TABLE AS old_rows", "streamflow_stations_reference_check"),
    ("streamflow_stations_reference_check_update", "stations", "AFTER UPDATE",
     "REFERENCING OLD TABLE AS old_rows", "streamflow_stations_reference_check"),
    ("streamflow_stations_reference_check_truncate", "stations", "AFTER TRUNCATE",
     "", "streamflow_stations_reference_check"),
)
FUNCTIONS = ("streamflow_observations_station_check", "streamflow_stations_reference_check")


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return  # SQLite keeps the declarative foreign key
    op.drop_constraint(FK_NAME, "discharge_observations", type_="foreignkey")
    op.execute(OBSERVATIONS_CHECK)
    op.execute(STATIONS_CHECK)
    for name, table, event, referencing, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {event} ON {table} {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    if not _postgresql():
        return
    for name, table, *_ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}()")
    op.create_foreign_key(FK_NAME, "discharge_observations", "stations", ["station_id"], ["id"])

