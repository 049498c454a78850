"""The router's /metrics on its status port: pgpool's backends and children, PgBouncer's pools and totals.

Collector.collect asks pgpool (PCP for each backend's status, weight and role, as the watcher saw them at
most 3 s ago; `SHOW pool_nodes` for its select counts; `SHOW pool_processes` for its children) and
PgBouncer's console (SHOW POOLS, SHOW STATS) on each scrape; render() is pure. A part that does not
answer leaves its metrics out and sets its *_up gauge to 0.
"""
import threading

import psycopg2

from .. import db, prometheus
from ..errors import PgclusterError
from . import paths, pcp

METRICS = (
    ("pgpool_up", "gauge", "1 when pgpool answered its control port and a login on this scrape."),
    ("pgpool_backend_up", "gauge", "1 while pgpool routes to this backend (its status is up)."),
    ("pgpool_backend_primary", "gauge", "1 for the backend pgpool takes for the primary."),
    ("pgpool_backend_weight", "gauge", "The backend's load-balancing weight."),
    ("pgpool_backend_selects_total", "counter", "SELECTs pgpool sent to this backend since it started."),
    ("pgpool_backend_replication_delay_bytes", "gauge", "The standby's lag behind the primary, as pgpool saw it."),
    ("pgpool_child_processes", "gauge", "pgpool's child processes by what they do (a child serves one client)."),
    ("pgbouncer_up", "gauge", "1 when PgBouncer's console answered on this scrape."),
    ("pgbouncer_paused", "gauge", "1 while a switchover holds PgBouncer paused."),
    ("pgbouncer_pool_client_active_connections", "gauge", "Client connections linked to a server connection."),
    ("pgbouncer_pool_client_waiting_connections", "gauge", "Client connections waiting for a server connection."),
    ("pgbouncer_pool_server_active_connections", "gauge", "Server connections linked to a client."),
    ("pgbouncer_pool_server_idle_connections", "gauge", "Server connections idle and ready for a client."),
    ("pgbouncer_pool_maxwait_seconds", "gauge", "How long the oldest waiting client has waited."),
    ("pgbouncer_transactions_total", "counter", "Transactions PgBouncer pooled, by database."),
    ("pgbouncer_queries_total", "counter", "Queries PgBouncer pooled, by database."),
    ("pgbouncer_received_bytes_total", "counter", "Bytes PgBouncer received from clients, by database."),
    ("pgbouncer_sent_bytes_total", "counter", "Bytes PgBouncer sent to clients, by database."),
    ("pgbouncer_query_seconds_total", "counter", "Time spent in queries on server connections, by database."),
)
POOL_GAUGES = {"cl_active": "pgbouncer_pool_client_active_connections",
               "cl_waiting": "pgbouncer_pool_client_waiting_connections",
               "sv_active": "pgbouncer_pool_server_active_connections",
               "sv_idle": "pgbouncer_pool_server_idle_connections"}
STATS_COUNTERS = {"total_xact_count": ("pgbouncer_transactions_total", 1),
                  "total_query_count": ("pgbouncer_queries_total", 1),
                  "total_received": ("pgbouncer_received_bytes_total", 1),
                  "total_sent": ("pgbouncer_sent_bytes_total", 1),
                  "total_query_time": ("pgbouncer_query_seconds_total", 1e-6)}  # microseconds


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def pgpool_samples(nodes, pool_nodes, processes):
    """nodes: {num: PoolNode} (PCP); pool_nodes, processes: SHOW pool_nodes / pool_processes rows (dicts)."""
    samples = []
    selects = {(r.get("hostname"), str(r.get("port"))): r for r in pool_nodes}
    for num, n in sorted(nodes.items()):
        labels = {"backend": n.host, "id": str(num)}
        row = selects.get((n.host, str(n.port)), {})
        samples += [("pgpool_backend_up", labels, int(n.status == "up")),
                    ("pgpool_backend_primary", labels, int(n.role == "primary")),
                    ("pgpool_backend_weight", labels, n.weight),
                    ("pgpool_backend_selects_total", labels, _number(row.get("select_cnt"))),
                    ("pgpool_backend_replication_delay_bytes", labels, _number(row.get("replication_delay")))]
    by_status = {}
    for row in processes:
        status = (row.get("status") or "unknown").lower()
        by_status[status] = by_status.get(status, 0) + 1
    samples += [("pgpool_child_processes", {"status": s}, count) for s, count in sorted(by_status.items())]
    return samples


def pgbouncer_samples(pools, stats):
    samples = []
    for pool in pools:
        if pool.get("database") == "pgbouncer":
            continue
        labels = {"database": pool.get("database"), "user": pool.get("user")}
        samples += [(name, labels, _number(pool.get(column))) for column, name in POOL_GAUGES.items()]
        wait = (_number(pool.get("maxwait")) or 0) + (_number(pool.get("maxwait_us")) or 0) / 1e6
        samples.append(("pgbouncer_pool_maxwait_seconds", labels, wait))
    for row in stats:
        if row.get("database") == "pgbouncer":
            continue
        for column, (name, scale) in STATS_COUNTERS.items():
            value = _number(row.get(column))
            samples.append((name, {"database": row.get("database")}, None if value is None else value * scale))
    return samples


class Collector:
    """Collects this router's samples on each scrape. Its login through pgpool is kept between scrapes:
    a new one costs pgpool a connection to every backend, 70-400 ms here; after a failover pgpool ends it
    and the next scrape logs in again."""

    def __init__(self, cfg, pgbouncer):
        self.cfg, self.pgbouncer = cfg, pgbouncer
        self.conn = None
        self.lock = threading.Lock()

    def sql(self, command):
        if self.conn is None or self.conn.closed:
            self.conn = db.connect(paths.RUN_DIR, paths.PGPOOL_PORT, self.cfg.check_user, "postgres", timeout=2,
                                   application_name="pgcluster-metrics")
        try:
            return db.rows(self.conn, command, timeout=3, named=True)
        except psycopg2.Error:
            self.conn.close()
            raise

    def collect(self, paused):
        """Every sample of this router, now."""
        samples = [("pgbouncer_paused", {}, int(paused))]
        with self.lock:  # two scrapes at once share the one login
            try:
                samples += pgpool_samples(pcp.recent_nodes(self.cfg), self.sql("SHOW pool_nodes"),
                                          self.sql("SHOW pool_processes"))
                samples.append(("pgpool_up", {}, 1))
            except (PgclusterError, psycopg2.Error):
                samples.append(("pgpool_up", {}, 0))
        try:
            samples += pgbouncer_samples(self.pgbouncer.console("SHOW POOLS", timeout=3, named=True),
                                         self.pgbouncer.console("SHOW STATS", timeout=3, named=True))
            samples.append(("pgbouncer_up", {}, 1))
        except psycopg2.Error:
            samples.append(("pgbouncer_up", {}, 0))
        return samples


def render(samples):
    return prometheus.render(METRICS, samples)
