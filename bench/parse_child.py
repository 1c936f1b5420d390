"""Child process of benchmark 2: parse the DAG file once, report JSON on stdout's last line.

Run with a fresh interpreter each time (what a DAG processor / worker pays). Modes:
``factory`` times ``import streamflow.loading`` + ``generate_dags()``; ``previous`` the same with
the trigger Params' ``$schema`` removed (as before commit 60f6275; see benchmark 2); ``dagbag`` times Airflow's
own ``DagBag`` over ``dags/`` (file import, DAG bagging, cycle checks); ``profile`` runs
``generate_dags()`` under cProfile and prints the top functions.
"""

from __future__ import annotations

import json
import resource
import sys
import time

T0 = time.perf_counter()


def main() -> None:
    mode, dags_folder = sys.argv[1], sys.argv[2]
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts = {"streamflow": 0, "other": 0}

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        url = conn.engine.url
        key = "streamflow" if url.database and "sf_bench" in url.database else "other"
        counts[key] += 1

    event.listen(Engine, "before_cursor_execute", before_cursor_execute)
    t_import = time.perf_counter()
    import airflow.sdk  # noqa: F401  - what every DAG file pays first

    airflow_import = time.perf_counter() - t_import
    out: dict = {"airflow_import_s": airflow_import}
    if mode in ("factory", "profile", "previous"):
        t = time.perf_counter()
        from streamflow import factory, loading

        out["factory_import_s"] = time.perf_counter() - t
        if mode == "previous":  # before 60f6275: the Params' schemas without "$schema" (2020-12)
            shipped = factory.trigger_params

            def trigger_params(config):
                params = shipped(config)
                for param in params.values():
                    param.schema.pop("$schema", None)
                return params

            factory.trigger_params = trigger_params
        if mode == "profile":
            import cProfile
            import io
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            dags = loading.generate_dags()
            profiler.disable()
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            stats.sort_stats("cumulative").print_stats(25)
            stats.sort_stats("tottime").print_stats(15)
            out["profile"] = stream.getvalue()
        else:
            t = time.perf_counter()
            dags = loading.generate_dags()
            out["generate_s"] = time.perf_counter() - t
        out["dags"] = len(dags)
        out["tasks"] = sum(len(d.tasks) for d in dags.values())
    else:
        from airflow.dag_processing.dagbag import DagBag

        t = time.perf_counter()
        bag = DagBag(dag_folder=dags_folder, safe_mode=False)
        out["dagbag_s"] = time.perf_counter() - t
        out["dags"] = len(bag.dags)
        out["import_errors"] = len(bag.import_errors)
        out["import_error_text"] = "; ".join(str(v)[:300] for v in bag.import_errors.values())
    out["total_s"] = time.perf_counter() - T0
    out["queries"] = counts["streamflow"]
    out["other_queries"] = counts["other"]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
