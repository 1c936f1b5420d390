"""Typed SQLAlchemy 2 models of the streamflow database.

Table and column names and the unique indexes follow the seed schema (docs/architecture.md#data-model); additions are
Alembic revisions (``alembic/versions``). The migrations are the only way the schema is created;
``tests/db/test_migrations.py`` proves these models and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from streamflow.configurations import NAME_MAX, SCHEDULE_VALUE_MAX, STATION_NUMBER_MAX
from streamflow.db.types import BigIntPK, JsonType, UtcDateTime

# Stable constraint names on every dialect (Alembic batch mode on SQLite needs names too).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Station(Base):
    """A gauge that has data in this database (created the first time data arrives)."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_number: Mapped[str] = mapped_column(String(50), unique=True, index=True)
    name: Mapped[str] = mapped_column(Text)
    agency: Mapped[str] = mapped_column(String(50))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str | None] = mapped_column(String(50), default="UTC")
    huc_code: Mapped[str | None] = mapped_column(String(20), index=True)
    basin: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(50), index=True)
    catchment_area: Mapped[float | None] = mapped_column(Float)  # km²
    years_of_record: Mapped[float | None] = mapped_column(Float)
    record_start_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    record_end_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True)
    last_updated: Mapped[datetime | None] = mapped_column(
        UtcDateTime, server_default=func.now(), onupdate=func.now()
    )


class DischargeObservation(Base):
    """One value of a station's discharge series (``type`` = data type)."""

    __tablename__ = "discharge_observations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # No index of its own: unique_observation_idx leads with station_id (revision 0006).
    # On PostgreSQL the foreign key is enforced once per statement by triggers instead of the
    # declarative constraint (revision 0007, ADR 0005); SQLite keeps the constraint.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    discharge: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    type: Mapped[str] = mapped_column(String(20))
    quality_code: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (UniqueConstraint("station_id", "observed_at", "type", name="unique_observation_idx"),)


class ForecastRun(Base):
    """One issued forecast (an RFC stageflow forecast or an NWM run) for one station."""

    __tablename__ = "forecast_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    source: Mapped[str] = mapped_column(String(50))
    run_date: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    data: Mapped[Any] = mapped_column(JsonType)  # [{"valid_time": iso, "value": float}, ...]
    rmse: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        Index("idx_station_run_date", "station_id", "run_date"),
        UniqueConstraint("station_id", "source", "run_date", name="unique_forecast_run_idx"),
    )


class PullConfiguration(Base):
    """What to pull: one row becomes one DAG (docs/architecture.md#dag-factory)."""

    __tablename__ = "pull_configurations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str | None] = mapped_column(Text)
    data_type: Mapped[str] = mapped_column(String(20))
    data_strategy: Mapped[str] = mapped_column(String(20))
    pull_start_date: Mapped[datetime] = mapped_column(UtcDateTime)
    is_enabled: Mapped[bool | None] = mapped_column(Boolean, default=True)
    schedule_type: Mapped[str] = mapped_column(String(20))
    schedule_value: Mapped[str | None] = mapped_column(String(SCHEDULE_VALUE_MAX))
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, server_default=func.now(), onupdate=func.now()
    )

    stations: Mapped[list[PullConfigurationStation]] = relationship(
        back_populates="configuration", order_by="PullConfigurationStation.id", cascade="all, delete-orphan"
    )


class PullConfigurationStation(Base):
    """A station of a configuration."""

    __tablename__ = "pull_configuration_stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("pull_configurations.id"), index=True)
    station_number: Mapped[str] = mapped_column(String(STATION_NUMBER_MAX))
    station_name: Mapped[str | None] = mapped_column(Text)
    huc_code: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str | None] = mapped_column(String(50))
    agency: Mapped[str | None] = mapped_column(String(10))

    configuration: Mapped[PullConfiguration] = relationship(back_populates="stations")


class DataPullLog(Base):
    """One DAG run of a configuration: opened by ``plan``, closed by ``finalize``."""

    __tablename__ = "data_pull_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("pull_configurations.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    records_processed: Mapped[int | None] = mapped_column(Integer)
    start_time: Mapped[datetime] = mapped_column(UtcDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error_message: Mapped[str | None] = mapped_column(Text)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    dag_run_id: Mapped[str | None] = mapped_column(String(250))
    stations_total: Mapped[int | None] = mapped_column(Integer)
    stations_failed: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[Any | None] = mapped_column(JsonType)

    __table_args__ = (
        Index("idx_config_start_time", "config_id", "start_time"),
        Index("idx_pull_log_dag_run", "dag_id", "dag_run_id"),
    )


class PullStationProgress(Base):
    """Smart append state: the latest instant stored for (configuration, station)."""

    __tablename__ = "pull_station_progress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("pull_configurations.id"), index=True)
    station_number: Mapped[str] = mapped_column(String(50))
    last_successful_pull_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (UniqueConstraint("config_id", "station_number", name="unique_progress_idx"),)


class MasterStation(Base):
    """Reference list of gauges (USGS current streamflow sites, EC hydrometric stations)."""

    __tablename__ = "master_stations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_number: Mapped[str] = mapped_column(String(50), unique=True, index=True)
    station_name: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    state_code: Mapped[str | None] = mapped_column(String(10), index=True)
    huc_code: Mapped[str | None] = mapped_column(String(20), index=True)
    altitude_ft: Mapped[float | None] = mapped_column(Float)
    drainage_area_sqmi: Mapped[float | None] = mapped_column(Float)
    agency: Mapped[str | None] = mapped_column(String(20), default="USGS")


class StationMapping(Base):
    """Cross-agency id translation, e.g. USGS 01646500 → NOAA-HADS BRKM2."""

    __tablename__ = "station_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_agency: Mapped[str] = mapped_column(String(50))
    source_id: Mapped[str] = mapped_column(String(50), index=True)
    target_agency: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(50))

    __table_args__ = (
        UniqueConstraint("source_agency", "source_id", "target_agency", name="unique_mapping_idx"),
        Index("idx_source_lookup", "source_agency", "source_id"),
        Index("idx_target_lookup", "target_agency", "target_id"),
    )


class ForecastVerification(Base):
    """Scores of one forecast run in one lead-time bin (``lead_bin = 'all'``: the whole run).

    Written by ``streamflow.db.verification`` (ADR 0013); values are in the run's unit.
    """

    __tablename__ = "forecast_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    forecast_run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"))
    lead_bin: Mapped[str] = mapped_column(String(20))
    lead_start_hours: Mapped[int] = mapped_column(Integer)
    lead_end_hours: Mapped[int] = mapped_column(Integer)
    observation_type: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))  # complete | partial
    n_pairs: Mapped[int] = mapped_column(Integer)
    pairs_dropped: Mapped[int] = mapped_column(Integer)
    rmse: Mapped[float | None] = mapped_column(Float)
    mean_error: Mapped[float | None] = mapped_column(Float)
    mae: Mapped[float | None] = mapped_column(Float)
    nse: Mapped[float | None] = mapped_column(Float)
    kge: Mapped[float | None] = mapped_column(Float)
    persistence_rmse: Mapped[float | None] = mapped_column(Float)
    skill: Mapped[float | None] = mapped_column(Float)
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("forecast_run_id", "lead_bin", name="unique_forecast_verification_idx"),
    )
