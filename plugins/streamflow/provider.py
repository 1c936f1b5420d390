"""Provider metadata (entry point ``apache_airflow_provider``) so Airflow lists our hooks and
connection types in the UI's connection form (docs/architecture.md#trap-connection-types).

The connection form of each type is declared here, as data: Airflow 3.3 reads ``ui-field-behaviour``
(hidden fields, labels, placeholders) and ``conn-fields`` (extra fields) from the provider info
without importing the hooks, and deprecates the hooks' ``get_ui_field_behaviour`` /
``get_connection_form_widgets`` methods in favour of it. The hooks' ``get_ui_field_behaviour``
returns the same declaration (:func:`ui_field_behaviour`), so both views agree. Light on purpose:
no pandas, no hook imports (the API server reads this module).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamflow import __version__


@dataclass(frozen=True)
class ConnectionForm:
    """How one connection type looks in Airflow's connection form."""

    connection_type: str
    hook_class_name: str
    hook_name: str
    conn_id: str  # the connection id Streamflow reads
    default_host: str
    api_key: bool = False  # the password field is the service's API key
    extra_fields: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return f"{self.hook_name} (connection id {self.conn_id})"

    def behaviour(self) -> dict[str, Any]:
        """``get_ui_field_behaviour`` style (snake_case keys)."""
        hidden = ["login", "port", "schema"] + ([] if self.api_key else ["password"])
        # Airflow 3.3 prefixes a "description" placeholder as if it were an extra field (and then
        # drops it), so the connection id goes into the description's label instead.
        relabeling = {
            "host": "Service root URL",
            "description": f"Description (Streamflow reads connection id '{self.conn_id}')",
        }
        placeholders = {"host": f"{self.default_host} (empty = this default)"}
        if self.api_key:
            relabeling["password"] = "API key"
            placeholders["password"] = "optional; sent only to the service's own host"
        return {"hidden_fields": hidden, "relabeling": relabeling, "placeholders": placeholders}


CONNECTION_FORMS: tuple[ConnectionForm, ...] = (
    ConnectionForm(
        "streamflow_usgs",
        "streamflow.hooks.usgs.UsgsWaterDataHook",
        "USGS Water Data API",
        "usgs_waterdata",
        "https://api.waterdata.usgs.gov",
        api_key=True,
        extra_fields={
            "retries": {
                "label": "Library retries",
                "description": "Retries dataretrieval makes itself after a transient failure of a request's first "
                "page (0 leaves every retry to Airflow; empty = the library's default, 4).",
                "schema": {"type": ["integer", "null"], "minimum": 0},
            },
            "stall_timeout": {
                "label": "Stall timeout (s)",
                "description": "Seconds the library may go without data before it stops retrying (empty = 60).",
                "schema": {"type": ["number", "null"], "minimum": 0},
            },
        },
    ),
    ConnectionForm(
        "streamflow_eccc_datamart",
        "streamflow.hooks.eccc.EcccDatamartHook",
        "ECCC MSC Datamart",
        "eccc_datamart",
        "https://dd.weather.gc.ca",
    ),
    ConnectionForm(
        "streamflow_eccc_wateroffice",
        "streamflow.hooks.eccc.EcccWaterOfficeHook",
        "ECCC Water Office web services",
        "eccc_wateroffice",
        "https://wateroffice.ec.gc.ca",
    ),
    ConnectionForm(
        "streamflow_noaa_nwps",
        "streamflow.hooks.noaa.NoaaNwpsHook",
        "NOAA National Water Prediction Service",
        "noaa_nwps",
        "https://api.water.noaa.gov",
    ),
)


def connection_form(connection_type: str) -> ConnectionForm:
    for form in CONNECTION_FORMS:
        if form.connection_type == connection_type:
            return form
    raise KeyError(connection_type)


def ui_field_behaviour(connection_type: str) -> dict[str, Any]:
    """What a hook's ``get_ui_field_behaviour`` returns for ``connection_type``."""
    return connection_form(connection_type).behaviour()


def _connection_type(form: ConnectionForm) -> dict[str, Any]:
    behaviour = form.behaviour()
    entry: dict[str, Any] = {
        "connection-type": form.connection_type,
        "hook-class-name": form.hook_class_name,
        "hook-name": form.display_name,
        "ui-field-behaviour": {
            "hidden-fields": behaviour["hidden_fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        },
    }
    if form.extra_fields:
        entry["conn-fields"] = form.extra_fields
    return entry


def get_provider_info() -> dict:
    return {
        "package-name": "streamflow-dataops",
        "name": "Streamflow DataOps",
        "description": "Hooks and operators that pull USGS, ECCC and NOAA streamflow into a database.",
        "versions": [__version__],
        "connection-types": [_connection_type(form) for form in CONNECTION_FORMS],
    }
