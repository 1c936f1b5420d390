"""Streamflow DataOps: keep a database of observed and forecast river discharge current.

The package lives in ``plugins/streamflow`` so Airflow can import it (``plugins/`` is on
``sys.path``) and is installable (``pip install -e .``) so the CLI, Alembic and the tests import
it the same way. ``plugins/.airflowignore`` keeps Airflow's plugin loader from executing its
modules as loose top-level files (docs/architecture.md#trap-plugin-loader).
"""

__version__ = "0.1.0"
