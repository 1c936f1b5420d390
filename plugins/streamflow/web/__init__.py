"""Streamflow inside Airflow: an Airflow plugin that mounts one FastAPI app at ``/streamflow``.

* ``streamflow.web.plugin`` — the ``AirflowPlugin`` (registered through the package's
  ``airflow.plugins`` entry point; nothing under ``plugins/`` is imported twice).
* ``streamflow.web.app`` — the app: HTML pages at ``/streamflow/…``, the read API at
  ``/streamflow/api/v1`` with its own OpenAPI document.
* ``streamflow.web.security`` — every route depends on Airflow's own authentication; writes need
  DAG edit rights and a CSRF proof (docs/adr/0014-web-security.md).
"""
