import jinja2
import pytest

from pgcluster import config, render
from pgcluster.node import files, paths

from .goldens import NODE_ENV


def test_pgpass_is_private_and_escaped():
    content, mode = files.render_all(config.load("node", NODE_ENV))[paths.PGPASS]
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
