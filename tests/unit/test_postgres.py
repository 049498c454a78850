from pgcluster.node import paths, postgres


def test_lock_files_of_a_killed_container_are_removed_before_postgres_starts(tmp_path, monkeypatch):
    pgdata, sockets = tmp_path / "data", tmp_path / "run"
    pgdata.mkdir()
    sockets.mkdir()
    monkeypatch.setattr(paths, "SOCKET_DIR", str(sockets))
    (pgdata / "postmaster.pid").write_text("12\n")
    (sockets / ".s.PGSQL.5432.lock").write_text("12\n")
    (sockets / "unrelated").write_text("kept")
    postgres.remove_stale_locks(str(pgdata))
    assert sorted(p.name for p in [*pgdata.iterdir(), *sockets.iterdir()]) == ["unrelated"]
