import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pgcluster import config
from pgcluster.backup import files, metrics
from pgcluster.backup.recovery import choose_backup
from pgcluster.backup.scheduler import next_run
from pgcluster.errors import ConfigError, FatalError
from pgcluster.node.role import Action, Facts, Local, Peer, decide_role

GOLDEN = Path(__file__).parent / "golden"
ENV = {"REPLICATION_HOST": "pgmaster,pgslave1,pgslave3", "REPLICATION_PASSWORD": "r:p", "POSTGRES_PASSWORD": "p"}


def load(**changes):
    env = {**ENV, **changes}
    return config.load_barman({k: v for k, v in env.items() if v is not None})


def epoch(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("changes, expected", [
    ({"BACKUP_SCHEDULE": "0 25 * * *"}, "BACKUP_SCHEDULE='0 25 * * *' is not valid: expected a cron expression"),
    ({"BACKUP_SCHEDULE": "daily"}, "BACKUP_SCHEDULE='daily' is not valid"),
    ({"BACKUP_SCHEDULE": "* * * * * *"}, "BACKUP_SCHEDULE='* * * * * *' is not valid"),
    ({"BACKUP_RETENTION_DAYS": "0"}, "BACKUP_RETENTION_DAYS='0' is not valid: expected an integer from 1 to 3650"),
    ({"REPLICATION_HOST": None}, "REPLICATION_HOST is required"),
    ({"POSTGRES_PASSWORD": None}, "POSTGRES_PASSWORD is required: set it (or POSTGRES_PASSWORD_FILE)"),
    ({"UPSTREAM_NAME": "my cluster"}, "UPSTREAM_NAME='my cluster' is not valid"),
])
def test_bad_values_name_the_variable_and_the_form(changes, expected):
    with pytest.raises(ConfigError) as caught:
        load(**changes)
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(expected)


def test_schedule_is_normalised_and_fires_in_utc():
    cfg = load(BACKUP_SCHEDULE="30  2 * * *")
    assert cfg.schedule == "30 2 * * *"
    assert next_run(cfg.schedule, epoch("2026-11-22 10:00:00")) == epoch("2026-11-23 02:30:00")


@pytest.mark.parametrize("path", sorted(files.render_all(load())))
def test_barman_files_match_golden(path):
    """Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change."""
    content, mode = files.render_all(load())[path]
    golden = GOLDEN / ("barman-" + os.path.basename(path))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(content)
    assert content == golden.read_text() and mode == 0o600


BACKUPS = [
    {"id": "b1", "status": "DONE", "begin": epoch("2026-11-20 03:00:00"), "end": epoch("2026-11-20 03:01:00"),
     "end_lsn": "0/5000000"},
    {"id": "b2", "status": "FAILED", "begin": epoch("2026-11-21 03:00:00"), "end": None, "end_lsn": ""},
    {"id": "b3", "status": "DONE", "begin": epoch("2026-11-22 03:00:00"), "end": epoch("2026-11-22 03:01:00"),
     "end_lsn": "0/9000000"},
]


@pytest.mark.parametrize("target, backup, options", [
    (("time", epoch("2026-11-22 10:00:00")), "b3", ["--target-time", "2026-11-22 10:00:00.000000+00:00"]),
    (("time", epoch("2026-11-21 10:00:00")), "b1", ["--target-time", "2026-11-21 10:00:00.000000+00:00"]),
    (("time", epoch("2026-11-22 03:00:30")), "b1", ["--target-time", "2026-11-22 03:00:30.000000+00:00"]),
    (("lsn", "0/A000000"), "b3", ["--target-lsn", "0/A000000"]),
    (("lsn", "0/6000000"), "b1", ["--target-lsn", "0/6000000"]),
    (("name", "before_upgrade"), "b1", ["--target-name", "before_upgrade"]),
    (("latest", None), "b3", []),
])
def test_choose_backup(target, backup, options):
    chosen, found = choose_backup(BACKUPS, target)
    pitr = ["--target-tli", "latest", "--target-action", "promote"] if options else []
    assert (chosen["id"], found) == (backup, options + pitr)


def test_a_target_before_every_backup_is_refused():
    with pytest.raises(FatalError, match="No backup ended before 2026-11-19 00:00:00"):
        choose_backup(BACKUPS, ("time", epoch("2026-11-19 00:00:00")))


def test_parse_backup_info_and_read_the_catalogue(tmp_path):
    cfg = load(BACKUP_DIR=str(tmp_path))
    base = tmp_path / "pg_cluster" / "base" / "20261122T030000"
    base.mkdir(parents=True)
    (base / "backup.info").write_text("backup_id=20261122T030000\nbegin_time=2026-11-22 03:00:00.5+00:00\n"
                                      "end_time=2026-11-22 03:00:10.5+00:00\nend_xlog=0/9000100\nsize=1234\n"
                                      "status=DONE\ntimeline=2\n")
    wals = tmp_path / "pg_cluster" / "wals"
    wals.mkdir()
    (wals / "xlog.db").write_text("000000020000000000000009\t16777216\t1795320000.5\tNone\n")
    assert metrics.done_backups(cfg) == [{"id": "20261122T030000", "status": "DONE", "begin": epoch(
        "2026-11-22 03:00:00.5"), "end": epoch("2026-11-22 03:00:10.5"), "end_lsn": "0/9000100", "size": 1234,
        "timeline": 2}]
    assert metrics.last_wal_time(cfg) == 1795320000.5


def test_a_backup_in_progress_is_listed_but_not_done(tmp_path):
    cfg = load(BACKUP_DIR=str(tmp_path))
    base = tmp_path / "pg_cluster" / "base" / "20261122T050000"
    base.mkdir(parents=True)
    (base / "backup.info").write_text("backup_id=20261122T050000\nbegin_time=2026-11-22 05:00:00+00:00\n"
                                      "end_time=None\nsize=None\nstatus=STARTED\ntimeline=None\n")
    assert [(b["status"], b["end"], b["size"]) for b in metrics.backups(cfg)] == [("STARTED", None, 0)]
    assert metrics.done_backups(cfg) == []


def test_metrics_render_prometheus_text():
    text = metrics.render("pg_cluster", {"barman_check_ok": 1, "barman_backups": 2,
                                         "barman_last_backup_end_timestamp_seconds": 1795320010.5})
    lines = text.splitlines()
    assert "# HELP barman_backups Number of completed base backups kept." in lines
    assert "# TYPE barman_backups gauge" in lines
    assert 'barman_backups{server="pg_cluster"} 2' in lines
    assert 'barman_last_backup_end_timestamp_seconds{server="pg_cluster"} 1795320010.5' in lines
    assert not any(line.startswith("barman_disk_free_bytes") for line in lines)  # unknown: left out
    assert text.endswith("\n")


VOTERS = ("pgmaster", "pgslave1", "pgslave3")
RESTORED = Local(has_data=True, was_primary=True, timeline=1, lsn=100, restored=True)


@pytest.mark.parametrize("peers, action, reason", [
    ([Peer("pgslave1", True, running=True, role="standby", primary="pgmaster"), Peer("pgslave3", True)],
     Action.WAIT, "this node holds data restored from a backup; waiting for pgslave1 to stop for the recovery"),
    ([Peer("pgslave1", True), Peer("pgslave3", False)], Action.START_PRIMARY,
     "this node holds data restored from a backup and no partner runs; starting it as the primary, which "
     "replays WAL up to the recovery target"),
    ([Peer("pgslave1", False), Peer("pgslave3", False)], Action.WAIT,
     "this node holds data restored from a backup but only 1 of 3 partners answer; waiting for a majority"),
    ([Peer("pgslave1", True, has_data=True, timeline=5), Peer("pgslave3", True)], Action.START_PRIMARY,
     "this node holds data restored from a backup and no partner runs; starting it as the primary, which "
     "replays WAL up to the recovery target"),  # held partners' newer timelines do not count
])
def test_restored_data_starts_as_primary_once_no_partner_runs(peers, action, reason):
    facts = Facts("pgmaster", RESTORED, True, "pgmaster", VOTERS, tuple(peers))
    decision = decide_role(facts)
    assert (decision.action, decision.reason) == (action, reason)
