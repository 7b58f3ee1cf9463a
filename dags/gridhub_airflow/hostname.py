"""The host name a task instance records, for several Celery workers on one machine.

Airflow records `socket.getfqdn()` by default, the same for every worker of a host; with
`[core] hostname_callable = gridhub_airflow.hostname.worker_hostname` and GRIDHUB_WORKER_NAME
set per worker, each task instance says which worker ran it. Containers need none of this:
each replica of airflow-worker has a host name of its own.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """This machine's name, then "/" and GRIDHUB_WORKER_NAME when that is set."""
    name = os.environ.get("GRIDHUB_WORKER_NAME")
    return f"{socket.getfqdn()}/{name}" if name else socket.getfqdn()
