"""Helpers for scripts/cluster.sh, which runs the compose deployment's processes on one machine."""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers started by scripts/cluster.sh.

    In Compose every worker is its own container with its own host name; on one machine two
    workers would share it, and the task instances' ``hostname`` could not tell them apart.
    cluster.sh gives each worker STREAMFLOW_WORKER_HOSTNAME (worker1, worker2, ...).
    """
    return os.environ.get("STREAMFLOW_WORKER_HOSTNAME") or socket.getfqdn()
