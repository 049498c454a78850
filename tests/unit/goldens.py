"""Golden files: every file the images generate, rendered from fixed environments, and the node's metrics.

test_goldens.py compares; `make goldens` (python -m tests.unit.goldens) rewrites them after an
intended change. No environment variable changes what a test does.
"""
import os
from pathlib import Path
from unittest import mock

from pgcluster import config
from pgcluster.backup import files as barman_files
from pgcluster.node import files as node_files
from pgcluster.node import metrics as node_metrics
from pgcluster.node import settings as node_settings
from pgcluster.pgpool import files as pgpool_files
from pgcluster.pgpool import metrics as router_metrics
from pgcluster.pgpool import paths as pgpool_paths
from pgcluster.pgpool import pgbouncer
from pgcluster.pgpool.pcp import PoolNode

from .certs import TLS_ENV
from .conftest import DATA, fake_pgbouncer_judge, fake_postgres_judge
from .helpers import down, primary, standby

GOLDEN = Path(__file__).parent / "golden"
NODE_ENV = {
    "NODE_NAME": "node2", "CLUSTER_NODE_NETWORK_NAME": "pgslave1", "REPLICATION_PRIMARY_HOST": "pgmaster",
    "PARTNER_NODES": "pgmaster,pgslave1,pgslave3", "POSTGRES_PASSWORD": "p:w\\d'x", "REPLICATION_PASSWORD": "r p",
    "CONFIGS": "max_connections:200;search_path:\"$user\", public", "CONFIGS_DELIMITER_SYMBOL": ";",
    "ALLOWED_NETWORKS": "samenet,10.0.0.0/8", **TLS_ENV,
}
PGPOOL_ENV = {
    "BACKENDS": "0:pgmaster:5432:1:/var/lib/postgresql/data:ALLOW_TO_FAILOVER,1:pgslave1::::,2:pgslave3:5433:2",
    "DB_USERS": "postgres:s3:cr,app:pw",
    "CHECK_USER": "replication_user", "CHECK_PASSWORD": "check", "PCP_PASSWORD": "pcp",
    "CONFIGS": "num_init_children:64", "PGBOUNCER_DATABASES": "app", "PGBOUNCER_CONFIGS": "default_pool_size:40",
    **TLS_ENV,
}
BARMAN_ENV = {"REPLICATION_HOST": "pgmaster,pgslave1,pgslave3", "REPLICATION_PASSWORD": "r:p",
              "POSTGRES_PASSWORD": "p", **TLS_ENV}
IMAGES = {"node": (node_files, NODE_ENV), "pgpool": (pgpool_files, PGPOOL_ENV), "barman": (barman_files, BARMAN_ENV)}


def rendered():
    """{golden file name: (content, mode)} of every generated file of every image."""
    found = {}
    for role, (files, env) in IMAGES.items():
        for path, (content, mode) in files.render_all(config.load(role, env)).items():
            found[f"{role}-{os.path.basename(path)}"] = (content, mode)
    bouncer = pgbouncer.render_all(config.load("pgpool", PGPOOL_ENV), "pgmaster", ["pgslave1", "pgslave3"])
    for path, (content, mode) in bouncer.items():
        found[f"pgpool-{os.path.basename(path)}"] = (content, mode)
    found["node-metrics.txt"] = (node_metrics_text(), 0o644)
    found["pgpool-metrics.txt"] = (router_metrics_text(), 0o600)
    return found


def router_metrics_text():
    """/metrics of a router with one backend down and a client waiting in PgBouncer."""
    nodes = {0: PoolNode("pgmaster", 5432, "up", 0.5, "primary"), 1: PoolNode("pgslave1", 5432, "down", 0.5, "standby")}
    pool_nodes = [{"hostname": "pgmaster", "port": "5432", "select_cnt": "12", "replication_delay": "0"},
                  {"hostname": "pgslave1", "port": "5432", "select_cnt": "3", "replication_delay": "4096"}]
    processes = [{"status": "Idle"}, {"status": "Idle"}, {"status": "Wait for connection"}]
    pools = [{"database": "pgbouncer", "user": "pgbouncer", "cl_active": 1},
             {"database": "app", "user": "postgres", "cl_active": 2, "cl_waiting": 1, "sv_active": 2, "sv_idle": 0,
              "maxwait": 1, "maxwait_us": 500000}]
    stats = [{"database": "app", "total_xact_count": 40, "total_query_count": 80, "total_received": 1000,
              "total_sent": 2000, "total_query_time": 1500000}]
    return router_metrics.render([("pgbouncer_paused", {}, 0), ("pgpool_up", {}, 1), ("pgbouncer_up", {}, 1)]
                                 + router_metrics.pgpool_samples(nodes, pool_nodes, processes)
                                 + router_metrics.pgbouncer_samples(pools, stats))


def node_metrics_text():
    """/metrics of a standby one partner of which does not answer."""
    record = node_metrics.Record(decided_at=100.0, failovers=1, switchovers=2, fences=0)
    me = standby("pgslave1", node="node2", lsn=100, upstream="pgmaster", timeline=2)
    answers = {"pgmaster": primary("pgmaster", timeline=2, lsn=4196), "pgslave3": down("pgslave3")}
    return node_metrics.render(me, 1.5, answers, ("pgmaster", "pgslave1", "pgslave3"), record,
                               disk=(10 << 30, 4 << 30), now=112.25)


def main():
    with mock.patch.object(node_settings, "judge", fake_postgres_judge), \
            mock.patch.object(pgbouncer, "judge", fake_pgbouncer_judge), \
            mock.patch.object(pgpool_paths, "SAMPLE_CONF", str(DATA / "pgpool.conf.sample")):
        files = rendered()
    for name, (content, _mode) in sorted(files.items()):
        (GOLDEN / name).write_text(content)
        print(f"wrote tests/unit/golden/{name}")


if __name__ == "__main__":
    main()
