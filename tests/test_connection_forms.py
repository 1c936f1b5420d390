"""Our connection types' forms, as the UI gets them from Airflow's real API app.

``GET /ui/connections/hook_meta`` (Airflow 3.3.2, ``HookMetaService.hook_meta_data``) is what the
connection form is drawn from. For each Streamflow type: login/port/schema hidden, the password
hidden or relabelled "API key", placeholders with the default host and the connection id, and the
display name saying which connection id Streamflow reads.
"""

from __future__ import annotations

import pytest

from streamflow.hooks.eccc import EcccDatamartHook, EcccWaterOfficeHook
from streamflow.hooks.noaa import NoaaNwpsHook
from streamflow.hooks.usgs import UsgsWaterDataHook
from streamflow.provider import CONNECTION_FORMS, get_provider_info
from tests.web.conftest import BASE_URL, airflow_app, bearer, tokens  # noqa: F401 (fixtures)

HOOKS = {
    "streamflow_usgs": (UsgsWaterDataHook, "usgs_waterdata", "https://api.waterdata.usgs.gov", True),
    "streamflow_eccc_datamart": (EcccDatamartHook, "eccc_datamart", "https://dd.weather.gc.ca", False),
    "streamflow_eccc_wateroffice": (EcccWaterOfficeHook, "eccc_wateroffice", "https://wateroffice.ec.gc.ca", False),
    "streamflow_noaa_nwps": (NoaaNwpsHook, "noaa_nwps", "https://api.water.noaa.gov", False),
}


@pytest.fixture(scope="module")
def hook_meta(airflow_app, tokens) -> dict[str, dict]:  # noqa: F811
    from fastapi.testclient import TestClient

    with TestClient(airflow_app, base_url=BASE_URL) as client:
        response = client.get("/ui/connections/hook_meta", headers=bearer(tokens, "admin"))
    assert response.status_code == 200, response.text
    return {entry["connection_type"]: entry for entry in response.json()}


@pytest.mark.parametrize("conn_type", sorted(HOOKS))
def test_form_hides_meaningless_fields_and_shows_the_default_host(hook_meta, conn_type):
    hook, conn_id, host, takes_key = HOOKS[conn_type]
    meta = hook_meta[conn_type]
    fields = meta["standard_fields"]
    assert meta["hook_class_name"] == f"{hook.__module__}.{hook.__name__}"
    assert conn_id in meta["hook_name"]  # the type list says which connection id is read
    for name in ("login", "port", "url_schema"):
        assert fields[name]["hidden"] is True, name
    assert host in fields["host"]["placeholder"]
    assert fields["host"]["hidden"] is False
    assert f"connection id '{conn_id}'" in fields["description"]["title"]
    if takes_key:
        assert fields["password"] == {"hidden": False, "title": "API key", "placeholder": fields["password"]["placeholder"]}
    else:
        assert fields["password"]["hidden"] is True


def test_usgs_form_offers_the_library_retry_settings(hook_meta):
    extra = hook_meta["streamflow_usgs"]["extra_fields"]
    assert set(extra) == {"retries", "stall_timeout"}
    assert extra["retries"]["schema"]["title"] == "Library retries"


@pytest.mark.parametrize("conn_type", sorted(HOOKS))
def test_hook_methods_and_provider_info_agree(conn_type):
    hook, conn_id, host, _ = HOOKS[conn_type]
    assert hook.default_conn_name == conn_id and hook.default_host == host
    behaviour = hook.get_ui_field_behaviour()
    declared = next(c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type)
    assert declared["ui-field-behaviour"]["hidden-fields"] == behaviour["hidden_fields"]
    assert declared["ui-field-behaviour"]["relabeling"] == behaviour["relabeling"]
    assert declared["hook-name"] == hook.hook_name
    assert {f.connection_type for f in CONNECTION_FORMS} == set(HOOKS)
