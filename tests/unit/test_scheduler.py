"""The backup container's loop steps, with a fake barman command line."""
import time
from types import SimpleNamespace

import pytest

from pgcluster import config
from pgcluster.backup import paths, stream
from pgcluster.backup.primary import PrimaryState
from pgcluster.backup.scheduler import HISTORY_ERROR, Scheduler, take_backup

from .goldens import BARMAN_ENV


class FakeBarman:
    def __init__(self, receiver=None):
        self.calls, self.args = [], receiver

    def run(self, *args, **kwargs):
        self.calls.append(args)
        if args[:2] == ("receive-wal", "--stop"):
            self.args = None
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    def receiver(self, server):
        return self.args


def scheduler(tmp_path, monkeypatch, receiver=None, primary=PrimaryState(1, "0/1000000", False), backups=1, **env):
    monkeypatch.setattr(paths, "LOG_FILE", str(tmp_path / "barman.log"))
    cfg = config.load("barman", {**BARMAN_ENV, "BACKUP_DIR": str(tmp_path), **env})
    meta = tmp_path / "pg_cluster" / "meta"
    meta.mkdir(parents=True)
    for n in range(backups):
        (meta / f"2026112{n}T030000-backup.info").write_text(
            f"backup_id=2026112{n}T030000\nstatus=DONE\nend_time=2026-11-2{n} 03:01:00+00:00\ntimeline=1\n")
    s = Scheduler(cfg, barman=FakeBarman(receiver))
    s.primary_state = lambda: primary
    s.taken = []
    s.take_backup = lambda kind, reason: s.taken.append((kind, reason))
    return s


def test_a_stopped_wal_stream_is_started_by_cron_and_no_backup_waits_for_it(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, receiver=None, backups=0)
    s.check_stream()
    assert s.barman.calls == [("cron",)] and s.taken == []


@pytest.mark.parametrize("line", [
    f"2026-12-01 ERROR: requested starting point 0/C000000 {HISTORY_ERROR}",
    # receive-wal asked for timeline 1 at 0/A000000, where timeline 2 began (its own log line, no reason given)
    '2026-12-01 [915] barman.command_wrappers INFO: pg_cluster: pg_receivewal: error: could not send replication '
    'command "START_REPLICATION": ',
])
def test_a_stream_that_cannot_resume_on_the_old_timeline_restarts_at_the_start_of_the_primarys_timeline(
        tmp_path, monkeypatch, line):
    s = scheduler(tmp_path, monkeypatch, receiver=["pg_receivewal", "/pg_cluster/"])
    (tmp_path / "pg_cluster" / "streaming").mkdir()
    monkeypatch.setattr(stream, "timeline_start", lambda cfg: (2, "00000002000000000000000A"))
    (tmp_path / "barman.log").write_text(line + "\n")
    s.forward_log()
    s.check_stream()
    assert s.barman.calls == [("receive-wal", "--stop", "pg_cluster"), ("receive-wal", "--reset", "pg_cluster"),
                              ("cron",)]
    placeholder = tmp_path / "pg_cluster" / "streaming" / "00000002000000000000000A.partial"
    assert placeholder.stat().st_size == 16 * 1024 * 1024 and s.reset_because is None


def test_the_stream_restarts_when_the_primary_wants_synchronous_wal(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, receiver=["pg_receivewal", "/pg_cluster/"], primary=PrimaryState(1, "0/1000000", True))
    s.check_stream()
    assert s.barman.calls == [("receive-wal", "--stop", "pg_cluster"), ("cron",)]


def test_backups_are_due_first_then_after_a_failover_then_on_schedule(tmp_path, monkeypatch):
    (tmp_path / "none").mkdir()
    (tmp_path / "one").mkdir()
    assert scheduler(tmp_path / "none", monkeypatch, backups=0).backup_due(1) == ("full", "there is no backup yet")
    s = scheduler(tmp_path / "one", monkeypatch)
    assert s.backup_due(1) is None  # the first look only learns the timeline
    assert s.backup_due(2) == ("full", "the primary moved to timeline 2 (a failover), and backups must follow it")
    s.next_backup = time.time() - 1
    assert s.backup_due(2) == ("full", "BACKUP_SCHEDULE '0 3 * * *' is due") and s.next_backup > time.time()


def test_incremental_backups_follow_their_own_schedule_on_the_newest_backups_timeline(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, INCREMENTAL_BACKUP_SCHEDULE="*/15 * * * *")
    assert s.backup_due(1) is None and s.next_incremental > time.time()
    s.next_incremental = time.time() - 1
    assert s.backup_due(1) == ("incremental", "INCREMENTAL_BACKUP_SCHEDULE '*/15 * * * *' is due")
    s.next_incremental, s.timeline = time.time() - 1, 2  # the newest backup is on timeline 1
    assert s.backup_due(2) == ("full", "INCREMENTAL_BACKUP_SCHEDULE '*/15 * * * *' is due, but the newest backup "
                                       "is on an older timeline than the primary's 2")


def test_without_an_incremental_schedule_only_full_backups_are_taken(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch)
    assert s.next_incremental is None and s.backup_due(1) is None


def test_a_healthy_stream_with_a_backup_due_takes_it(tmp_path, monkeypatch):
    s = scheduler(tmp_path, monkeypatch, receiver=["pg_receivewal", "/pg_cluster/"])
    s.timeline = 1
    s.check_stream()
    assert s.taken == [] and s.barman.calls == []
    s.primary_state = lambda: PrimaryState(2, "0/5000000", False)
    s.check_stream()
    assert s.taken == [("full", "the primary moved to timeline 2 (a failover), and backups must follow it")]


class BackingUpBarman(FakeBarman):
    """A barman whose backup ends waiting for its last WAL file, as PostgreSQL 17 leaves it."""

    def __init__(self, meta):
        super().__init__()
        self.meta = meta

    def run(self, *args, **kwargs):
        if args[0] == "backup":
            (self.meta / "20261201T100000-backup.info").write_text("status=WAITING_FOR_WALS\n")
        if args[0] == "check-backup":
            (self.meta / "20261201T100000-backup.info").write_text("status=DONE\n")
        return super().run(*args, **kwargs)


def test_a_backup_is_complete_only_once_its_last_wal_file_was_closed_and_archived(tmp_path):
    cfg = config.load("barman", {**BARMAN_ENV, "BACKUP_DIR": str(tmp_path)})
    meta = tmp_path / "pg_cluster" / "meta"
    meta.mkdir(parents=True)
    barman = BackingUpBarman(meta)
    assert take_backup(cfg, "incremental", barman) == "20261201T100000"
    assert [c[0] for c in barman.calls] == ["switch-wal", "backup", "switch-wal", "archive-wal", "check-backup"]
    assert barman.calls[0][:3] == ("switch-wal", "--force", "--archive")  # a fresh server: one file archived first
    assert barman.calls[1] == ("backup", "--incremental", "latest", "pg_cluster")
    assert barman.calls[2] == ("switch-wal", "--force", "pg_cluster")  # no waiting for Barman's own archiving


def test_a_later_backup_closes_its_last_segment_and_archives_it_itself(tmp_path):
    cfg = config.load("barman", {**BARMAN_ENV, "BACKUP_DIR": str(tmp_path)})
    meta = tmp_path / "pg_cluster" / "meta"
    meta.mkdir(parents=True)
    (meta / "20261130T100000-backup.info").write_text("status=DONE\n")
    barman = BackingUpBarman(meta)
    assert take_backup(cfg, "full", barman) == "20261201T100000"
    assert [c[0] for c in barman.calls] == ["backup", "switch-wal", "archive-wal", "check-backup"]


def test_a_backup_asked_for_while_another_runs_waits_for_it_instead_of_failing(tmp_path, caplog):
    import fcntl
    import threading

    from pgcluster.backup.scheduler import BACKUP_LOCK

    cfg = config.load("barman", {**BARMAN_ENV, "BACKUP_DIR": str(tmp_path)})
    meta = tmp_path / "pg_cluster" / "meta"
    meta.mkdir(parents=True)
    barman = BackingUpBarman(meta)
    with open(tmp_path / BACKUP_LOCK, "a") as running:  # the other backup, as another process holds it
        fcntl.flock(running, fcntl.LOCK_EX)
        result = {}
        taker = threading.Thread(target=lambda: result.setdefault("id", take_backup(cfg, "full", barman)))
        with caplog.at_level("INFO"):
            taker.start()
            deadline = time.monotonic() + 10
            while "Waiting for the base backup in progress" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            assert barman.calls == [] and taker.is_alive()
            fcntl.flock(running, fcntl.LOCK_UN)
            taker.join(10)
    assert result["id"] == "20261201T100000"
    assert "Waiting for the base backup in progress to finish" in caplog.text
