"""Golden files: every file the images generate, rendered from fixed environments.

test_goldens.py compares; `make goldens` (python -m tests.unit.goldens) rewrites them after an
intended change. No environment variable changes what a test does.
"""
import os
from pathlib import Path
from unittest import mock

from pgcluster import config
from pgcluster.backup import files as barman_files
from pgcluster.node import files as node_files
from pgcluster.node import settings as node_settings
from pgcluster.pgpool import files as pgpool_files
from pgcluster.pgpool import paths as pgpool_paths
from pgcluster.pgpool import pgbouncer

from .conftest import DATA, fake_pgbouncer_judge, fake_postgres_judge

GOLDEN = Path(__file__).parent / "golden"
NODE_ENV = {
    "NODE_NAME": "node2", "CLUSTER_NODE_NETWORK_NAME": "pgslave1", "REPLICATION_PRIMARY_HOST": "pgmaster",
    "PARTNER_NODES": "pgmaster,pgslave1,pgslave3", "POSTGRES_PASSWORD": "p:w\\d'x", "REPLICATION_PASSWORD": "r p",
    "CONFIGS": "max_connections:200;search_path:\"$user\", public", "CONFIGS_DELIMITER_SYMBOL": ";",
    "ALLOWED_NETWORKS": "samenet,10.0.0.0/8",
}
PGPOOL_ENV = {
    "BACKENDS": "0:pgmaster:5432:1:/var/lib/postgresql/data:ALLOW_TO_FAILOVER,1:pgslave1::::,2:pgslave3:5433:2",
    "DB_USERS": "postgres:s3:cr,app:pw",
    "CHECK_USER": "replication_user", "CHECK_PASSWORD": "check", "PCP_PASSWORD": "pcp",
    "CONFIGS": "num_init_children:64", "PGBOUNCER_DATABASES": "app", "PGBOUNCER_CONFIGS": "default_pool_size:40",
}
BARMAN_ENV = {"REPLICATION_HOST": "pgmaster,pgslave1,pgslave3", "REPLICATION_PASSWORD": "r:p",
              "POSTGRES_PASSWORD": "p"}
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
    return found


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
