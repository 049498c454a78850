"""Unit tests run without the images: the components that judge CONFIGS are replaced by small fakes."""
from pathlib import Path

import pytest

from pgcluster import tls
from pgcluster.node import settings as node_settings
from pgcluster.pgpool import paths as pgpool_paths
from pgcluster.pgpool import pgbouncer

DATA = Path(__file__).parent / "data"
# The PostgreSQL settings the fake postgres binary knows, and one value it refuses.
POSTGRES_KNOWS = {"max_connections", "shared_buffers", "work_mem", "search_path", "log_line_prefix"}
PGBOUNCER_KNOWS = {"default_pool_size", "max_client_conn", "server_lifetime"}


def fake_postgres_judge(settings):
    unknown = sorted(name for name in settings if name not in POSTGRES_KNOWS)
    if unknown:
        return [f'CONFIGS is not valid: unrecognized configuration parameter "{unknown[0]}". Expected '
                f'name:value pairs that PostgreSQL accepts.']
    if settings.get("shared_buffers") == "lots":
        return ['CONFIGS is not valid: invalid value for parameter "shared_buffers": "lots". Expected '
                'name:value pairs that PostgreSQL accepts.']
    return []


def fake_pgbouncer_judge(settings, pool_mode):
    unknown = sorted(name for name in settings if name not in PGBOUNCER_KNOWS)
    if unknown:
        return [f"PGBOUNCER_CONFIGS is not valid: unknown parameter: pgbouncer/{unknown[0]}. Expected name:value "
                "pairs of pgbouncer.ini settings."]
    return []


@pytest.fixture(autouse=True)
def component_fakes(monkeypatch):
    monkeypatch.setattr(node_settings, "judge", fake_postgres_judge)
    monkeypatch.setattr(pgbouncer, "judge", fake_pgbouncer_judge)
    monkeypatch.setattr(pgpool_paths, "SAMPLE_CONF", str(DATA / "pgpool.conf.sample"))
    # A command run in a test (test_cli) makes its TLS the process's policy; every test starts without one.
    monkeypatch.setattr(tls, "_current", tls.OFF)
    monkeypatch.setattr(tls, "_server", None)
