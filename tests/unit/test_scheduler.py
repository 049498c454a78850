"""The backup container's loop steps, with a fake barman command line."""
import time
from types import SimpleNamespace

from pgcluster import config
from pgcluster.backup import paths
from pgcluster.backup.scheduler import HISTORY_ERROR, Scheduler

from .goldens import BARMAN_ENV


class FakeBarman:
    def __init__(self, receiver=None):
        self.calls, self.args = [], receiver

    def run(self, *args, **kwargs):
        self.calls.append(args)
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    def receiver(self, server):
        return self.args


def scheduler(tmp_path, monkeypatch, receiver=None, primary=(1, False), backups=1):
    monkeypatch.setattr(paths, "LOG_FILE", str(tmp_path / "barman.log"))
    cfg = config.load("barman", {**BARMAN_ENV, "BACKUP_DIR": str(tmp_path)})
    for n in range(backups):
        base = tmp_path / "pg_cluster" / "base" / f"2026112{n}T030000"
        base.mkdir(parents=True)
        (base / "backup.info").write_text(f"backup_id=2026112{n}T030000\nstatus=DONE\n"
                                          f"end_time=2026-11-2{n} 03:01:00+00:00\n")
    s = Scheduler(cfg, barman=FakeBarman(receiver))
    s.primary_state = lambda: primary
    s.taken = []
    s.take_backup = s.taken.append
    return s


def test_a_stopped_wal_stream_is_started_by_cron_and_no_backup_waits_for_it(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, receiver=None, backups=0)
    s.check_stream()
    assert s.barman.calls == [("cron",)] and s.taken == []


def test_a_history_error_in_barmans_log_resets_the_stream(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, receiver=["pg_receivewal", "/pg_cluster/"])
    (tmp_path / "barman.log").write_text(f"2026-12-01 ERROR: requested starting point 0/C000000 {HISTORY_ERROR}\n")
    s.forward_log()
    s.check_stream()
    assert s.barman.calls == [("receive-wal", "--reset", "pg_cluster"), ("cron",)]


def test_the_stream_restarts_when_the_primary_wants_synchronous_wal(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, receiver=["pg_receivewal", "/pg_cluster/"], primary=(1, True))
    s.check_stream()
    assert s.barman.calls == [("receive-wal", "--stop", "pg_cluster"), ("cron",)]


def test_backups_are_due_first_then_after_a_failover_then_on_schedule(tmp_path, monkeypatch):
    (tmp_path / "none").mkdir()
    (tmp_path / "one").mkdir()
    assert scheduler(tmp_path / "none", monkeypatch, backups=0).backup_due(1) == "there is no backup yet"
    s = scheduler(tmp_path / "one", monkeypatch)
    assert s.backup_due(1) is None  # the first look only learns the timeline
    assert s.backup_due(2) == "the primary moved to timeline 2 (a failover), and backups must follow it"
    s.next_backup = time.time() - 1
    assert s.backup_due(2) == "BACKUP_SCHEDULE '0 3 * * *' is due" and s.next_backup > time.time()


def test_a_healthy_stream_with_a_backup_due_takes_it(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, receiver=["pg_receivewal", "/pg_cluster/"])
    s.timeline = 1
    s.check_stream()
    assert s.taken == [] and s.barman.calls == []
    s.primary_state = lambda: (2, False)
    s.check_stream()
    assert s.taken == ["the primary moved to timeline 2 (a failover), and backups must follow it"]
