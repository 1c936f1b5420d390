"""The Airflow plugin: mounts the Streamflow app and adds "Streamflow" to Airflow's navigation.

Registered through the package's ``airflow.plugins`` entry point (pyproject.toml), so Airflow
imports it as ``streamflow.web.plugin`` and never executes package files as loose modules
(``plugins/.airflowignore`` keeps the plugins-folder loader out of ``plugins/streamflow``).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from streamflow.web.app import MOUNT_PREFIX, create_app


class StreamflowPlugin(AirflowPlugin):
    name = "streamflow"
    fastapi_apps = [{"app": create_app(), "url_prefix": MOUNT_PREFIX, "name": "Streamflow"}]
    external_views = [
        {
            "name": "Streamflow",
            "href": f"{MOUNT_PREFIX}/",
            "url_route": "streamflow",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
