"""Initialisation: init scripts and initdb's password, without a server (the commands are faked)."""
import gzip
import sys
from types import SimpleNamespace

import pytest

from pgcluster import proc
from pgcluster.errors import FatalError
from pgcluster.node import bootstrap, server

CFG = SimpleNamespace(pgdata="/data", postgres_user="postgres", postgres_db="app", postgres_password="pw-x1",
                      replication_password="pw-x2")


def test_a_damaged_compressed_script_stops_the_bootstrap_with_one_line(tmp_path):
    (tmp_path / "01-data.sql.gz").write_bytes(b"not gzip at all")
    with pytest.raises(FatalError, match="Init script 01-data.sql.gz cannot be read"):
        bootstrap.run_init_scripts(CFG, str(tmp_path))


def test_a_failing_script_names_itself_and_never_shows_a_password(tmp_path):
    script = tmp_path / "02-fail.sh"
    script.write_text(f"#!{sys.executable}\nimport sys; sys.stderr.write('broken with pw-x1'); sys.exit(4)\n")
    script.chmod(0o755)
    with pytest.raises(FatalError) as raised:
        bootstrap.run_init_scripts(CFG, str(tmp_path))
    assert "Init script 02-fail.sh failed" in str(raised.value) and "exited with 4: broken with ***" in str(raised.value)


def test_a_compressed_script_reaches_psql_decompressed(tmp_path, monkeypatch):
    (tmp_path / "03-rows.sql.gz").write_bytes(gzip.compress(b"INSERT INTO t VALUES (1);\n"))
    fed = []
    monkeypatch.setattr(proc, "run", lambda argv, input=None, **kw: fed.append((argv[0], input)))
    bootstrap.run_init_scripts(CFG, str(tmp_path))
    assert fed == [("psql", b"INSERT INTO t VALUES (1);\n")]


def test_initdb_takes_the_password_on_its_standard_input_never_from_a_file(monkeypatch):
    calls = []
    monkeypatch.setattr(proc, "run", lambda argv, **kw: calls.append((argv, kw)))
    server.initdb("/data", "postgres", "pw-x1")
    (argv, kw), = calls
    assert "--pwfile=/dev/stdin" in argv and kw["input"] == "pw-x1\n" and "pw-x1" in kw["secrets"]
    assert not any("pw-x1" in arg for arg in argv)
