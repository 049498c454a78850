import os
from pathlib import Path

import jinja2
import pytest

from pgcluster import config, render
from pgcluster.node import files

GOLDEN = Path(__file__).parent / "golden"
ENV = {
    "NODE_NAME": "node2", "CLUSTER_NODE_NETWORK_NAME": "pgslave1", "REPLICATION_PRIMARY_HOST": "pgmaster",
    "PARTNER_NODES": "pgmaster,pgslave1,pgslave3", "POSTGRES_PASSWORD": "p:w\\d'x", "REPLICATION_PASSWORD": "r p",
    "CONFIGS": "max_connections:200;search_path:\"$user\", public", "CONFIGS_DELIMITER_SYMBOL": ";",
    "ALLOWED_NETWORKS": "samenet,10.0.0.0/8",
}


@pytest.mark.parametrize("path", sorted(files.render_all(config.load_node(ENV))))
def test_node_files_match_golden(path):
    """Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change."""
    content, _mode = files.render_all(config.load_node(ENV))[path]
    golden = GOLDEN / ("node-" + os.path.basename(path))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(content)
    assert content == golden.read_text()


def test_pgpass_is_private_and_escaped():
    content, mode = files.render_all(config.load_node(ENV))["/etc/pgcluster/pgpass"]
    assert mode == 0o600
    assert "*:*:*:postgres:p\\:w\\\\d'x\n" in content


@pytest.mark.parametrize("value, quoted", [
    ("plain", "'plain'"), ("it's", "'it''s'"), ("back\\slash", "'back\\\\slash'"),
])
def test_pg_string(value, quoted):
    assert render.pg_string(value) == quoted


@pytest.mark.parametrize("params, expected", [
    ({"host": "pgmaster", "port": 5432}, "host=pgmaster port=5432"),
    ({"user": "a b", "dbname": "it's"}, "user='a b' dbname='it\\'s'"),
    ({"host": "h", "password": None}, "host=h"),
])
def test_conninfo(params, expected):
    assert render.conninfo(**params) == expected


def test_undefined_template_variable_is_an_error():
    with pytest.raises(jinja2.UndefinedError):
        render.render("pg_hba.conf")


def test_write_atomic(tmp_path):
    target = tmp_path / "f.conf"
    render.write_atomic(str(target), "x = 1\n", 0o600)
    assert target.read_text() == "x = 1\n" and (target.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.conf"]
