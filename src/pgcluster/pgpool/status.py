"""This router's view, served as GET /router on STATUS_PORT: pgpool's backends and PgBouncer's pools."""
import socket

import psycopg2

from ..errors import PgclusterError
from . import pcp
from .health import write_node

POOL_COLUMNS = ("database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "maxwait", "pool_mode")


def pgpool_view(cfg):
    try:
        nodes = pcp.nodes(cfg)
    except PgclusterError as exc:
        return {"error": f"pgpool does not answer on its control port: {exc}"}
    writes, sentence = write_node(nodes)
    return {"has_write_node": writes, "says": sentence,
            "nodes": [{"id": num, "host": n.host, "status": n.status, "role": n.role, "weight": n.weight}
                      for num, n in sorted(nodes.items())]}


def pgbouncer_view(pgbouncer, paused):
    primary, readers = pgbouncer.target or ("", ())
    found = {"primary": primary, "readers": list(readers), "paused": paused}
    try:
        pools = pgbouncer.console("SHOW POOLS", timeout=3, named=True)
    except psycopg2.Error as exc:
        return dict(found, error=f"PgBouncer's console does not answer: {str(exc).strip()}")
    found["pools"] = [{k: p[k] for k in POOL_COLUMNS if k in p} for p in pools if p.get("database") != "pgbouncer"]
    return found


def view(cfg, pgbouncer, paused):
    return {"router": socket.gethostname(), "pgpool": pgpool_view(cfg), "pgbouncer": pgbouncer_view(pgbouncer, paused)}
