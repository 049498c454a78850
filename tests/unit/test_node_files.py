"""The node's files and markers: data directory, postgresql.auto.conf, stale locks, recovery plans."""
from types import SimpleNamespace

from pgcluster.cluster import plan as plans
from pgcluster.node import autoconf, datadir, paths, restore, server

from .test_cluster_protocol import PLAN


def test_lock_files_of_a_killed_container_are_removed_before_postgres_starts(tmp_path, monkeypatch):
    pgdata, sockets = tmp_path / "data", tmp_path / "run"
    pgdata.mkdir()
    sockets.mkdir()
    monkeypatch.setattr(paths, "SOCKET_DIR", str(sockets))
    (pgdata / "postmaster.pid").write_text("12\n")
    (sockets / ".s.PGSQL.5432.lock").write_text("12\n")
    (sockets / "unrelated").write_text("kept")
    server.remove_stale_locks(str(pgdata))
    assert sorted(p.name for p in [*pgdata.iterdir(), *sockets.iterdir()]) == ["unrelated"]


def test_auto_conf_edits_keep_what_others_wrote(tmp_path):
    (tmp_path / "postgresql.auto.conf").write_text("# Do not edit\nprimary_conninfo = 'host=old'\n"
                                                   "primary_slot_name = 'repmgr_slot_2'\nwork_mem = '8MB'\n"
                                                   "restore_command = 'cp x'\n")
    autoconf.set_upstream(str(tmp_path), "host=pgslave1 user=r")
    autoconf.drop_recovery_settings(str(tmp_path))
    assert (tmp_path / "postgresql.auto.conf").read_text() == (
        "# Do not edit\nwork_mem = '8MB'\nprimary_conninfo = 'host=pgslave1 user=r'\n")
    autoconf.set_upstream(str(tmp_path), None)
    assert "primary_conninfo" not in (tmp_path / "postgresql.auto.conf").read_text()


def test_fence_and_unfence_leave_the_markers_a_start_reads(tmp_path):
    (tmp_path / "PG_VERSION").write_text("15\n")
    datadir.fence(str(tmp_path))
    assert datadir.is_fenced(str(tmp_path)) and datadir.is_standby_dir(str(tmp_path))
    datadir.unfence(str(tmp_path))
    assert not datadir.is_fenced(str(tmp_path)) and not datadir.is_standby_dir(str(tmp_path))


def test_a_half_finished_clone_counts_as_no_data(tmp_path):
    (tmp_path / "PG_VERSION").write_text("15\n")
    assert datadir.incomplete_clone(str(tmp_path))  # no global/pg_control yet
    assert datadir.facts(str(tmp_path)) == datadir.DataFacts(has_data=False)


def test_a_node_of_the_plan_applies_it_once(tmp_path):
    plans.write(PLAN, tmp_path)
    (tmp_path / PLAN.id).mkdir()
    node = SimpleNamespace(host="pgslave1")
    assert restore.pending(node, tmp_path) == PLAN
    PLAN.mark_applied("pgslave1", tmp_path)
    assert restore.pending(node, tmp_path) is None


def test_a_node_outside_the_plan_ignores_it(tmp_path):
    plans.write(PLAN, tmp_path)
    assert restore.pending(SimpleNamespace(host="inspect1"), tmp_path) is None
