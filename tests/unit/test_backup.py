from datetime import datetime, timezone

import pytest

from pgcluster.backup import metrics, targets
from pgcluster.backup.scheduler import next_run
from pgcluster.backup.targets import choose_backup
from pgcluster.cluster.status import NodeStatus
from pgcluster.errors import ConfigError, FatalError
from pgcluster.node.role import Action, Facts, Local, decide_role

from .goldens import BARMAN_ENV
from .helpers import down, loader, standby

load, problems = loader("barman", BARMAN_ENV)


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
    ({"INCREMENTAL_BACKUP_SCHEDULE": "hourly"},
     "INCREMENTAL_BACKUP_SCHEDULE='hourly' is not valid: expected a cron expression of five fields"),
])
def test_bad_values_name_the_variable_and_the_form(changes, expected):
    found = problems(**changes)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_schedule_is_normalised_and_fires_in_utc():
    cfg = load(BACKUP_SCHEDULE="30  2 * * *")
    assert cfg.schedule == "30 2 * * *"
    assert next_run(cfg.schedule, epoch("2026-11-22 10:00:00")) == epoch("2026-11-23 02:30:00")


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
])
def test_choose_backup(target, backup, options):
    chosen, found = choose_backup(BACKUPS, target)
    assert (chosen["id"], found) == (backup, options + ["--target-tli", "latest", "--target-action", "promote"])


def test_without_a_primary_the_latest_state_is_the_end_of_the_archives_newest_timeline():
    chosen, found = choose_backup(BACKUPS, ("latest", None))
    assert (chosen["id"], found) == ("b3", ["--target-tli", "latest"])


TIMELINES = [dict(b, timeline=1) for b in BACKUPS] + [
    {"id": "b4", "status": "DONE", "begin": epoch("2026-11-23 03:00:00"), "end": epoch("2026-11-23 03:01:00"),
     "end_lsn": "0/B000000", "timeline": 1},  # on timeline 1 after the cluster left it at 0/9800000
]


@pytest.mark.parametrize("latest, backup", [
    ((2, "0/C000100"), "b3"),  # b4 ended on timeline 1 after timeline 2 branched off: it cannot reach timeline 2
    ((1, "0/C000100"), "b4"),
])
def test_the_latest_state_is_the_primarys_position_on_its_timeline(latest, backup):
    chosen, found = choose_backup(TIMELINES, ("latest", latest), history={1: 0x9800000})
    assert (chosen["id"], found) == (backup, ["--target-lsn", "0/C000100", "--target-tli", str(latest[0]),
                                              "--target-action", "promote"])


def test_a_backup_that_ended_in_the_wal_file_the_cluster_branched_off_in_is_not_used_for_the_latest_state():
    """Barman said 0/A86D000; PostgreSQL found the backup's minimum recovery point at 0/A86E128, after the branch
    at 0/A86D260, and refused to start: "requested timeline 2 does not contain minimum recovery point"."""
    near = TIMELINES[:3] + [dict(TIMELINES[3], end_lsn="0/A86D000")]
    chosen, _ = choose_backup(near, ("latest", (2, "0/C000100")), history={1: 0xA86D260})
    assert chosen["id"] == "b3"


def test_the_segment_a_timeline_began_in():
    # Timeline 2 branched off timeline 1 at 0/A86DE78: its first file is 00000002000000000000000A.
    assert targets.walfile(2, "0/A86DE79") == "00000002000000000000000A"


def test_wal_file_names_and_timeline_history():
    assert targets.walfile(2, "0/C000100") == "00000002000000000000000C"
    assert targets.walfile(3, "1/2000001") == "000000030000000100000002"
    assert targets.walfile(3, "1/2000000") == "000000030000000100000001"  # right after a switch
    assert targets.parse_history("1\t0/97F7228\tbefore 2026-12-01 19:49:30+00\n\n2\t0/C000000\tno recovery target\n") \
        == {1: 0x97F7228, 2: 0xC000000}


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
    (wals / "pg_cluster-xlog.db").write_text("000000020000000000000009\t16777216\t1795320000.5\tNone\n")
    assert metrics.done_backups(cfg) == [{"id": "20261122T030000", "status": "DONE", "kind": "full", "parent": None,
                                          "begin": epoch("2026-11-22 03:00:00.5"), "end": epoch("2026-11-22 03:00:10.5"),
                                          "end_lsn": "0/9000100", "size": 1234, "timeline": 2}]
    assert metrics.last_wal_time(cfg) == 1795320000.5


def test_barman_313_keeps_backup_info_in_meta_and_marks_incremental_backups(tmp_path):
    cfg = load(BACKUP_DIR=str(tmp_path))
    meta = tmp_path / "pg_cluster" / "meta"
    meta.mkdir(parents=True)
    (meta / "20261122T040000-backup.info").write_text("backup_id=20261122T040000\nparent_backup_id=20261122T030000\n"
                                                      "status=DONE\nend_time=2026-11-22 04:00:05+00:00\nsize=99\n")
    (meta / "20261122T030000-backup.info").write_text("backup_id=20261122T030000\nparent_backup_id=None\n"
                                                      "status=DONE\nend_time=2026-11-22 03:00:05+00:00\n")
    assert [(b["id"], b["kind"], b["parent"]) for b in metrics.backups(cfg)] == [
        ("20261122T030000", "full", None), ("20261122T040000", "incremental", "20261122T030000")]


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
    ([standby("pgslave1"), NodeStatus("pgslave3")],
     Action.WAIT, "this node holds data restored from a backup; waiting for pgslave1 to stop for the recovery"),
    ([NodeStatus("pgslave1"), down("pgslave3")], Action.START_PRIMARY,
     "this node holds data restored from a backup and no partner runs; starting it as the primary, which "
     "replays WAL up to the recovery target"),
    ([down("pgslave1"), down("pgslave3")], Action.WAIT,
     "this node holds data restored from a backup but only 1 of 3 partners answer; waiting for a majority"),
    ([NodeStatus("pgslave1", has_data=True, timeline=5), NodeStatus("pgslave3")], Action.START_PRIMARY,
     "this node holds data restored from a backup and no partner runs; starting it as the primary, which "
     "replays WAL up to the recovery target"),  # held partners' newer timelines do not count
])
def test_restored_data_starts_as_primary_once_no_partner_runs(peers, action, reason):
    facts = Facts("pgmaster", RESTORED, True, "pgmaster", VOTERS, tuple(peers))
    decision = decide_role(facts)
    assert (decision.action, decision.reason) == (action, reason)


@pytest.mark.parametrize("options, expected", [
    ({"target_time": "2026-11-22 10:15:00"}, ("time", epoch("2026-11-22 10:15:00"))),
    ({"target_time": "2026-11-22T11:15:00+01:00"}, ("time", epoch("2026-11-22 10:15:00"))),
    ({"target_lsn": "0/3000148"}, ("lsn", "0/3000148")),
    ({"target_name": "before_upgrade"}, ("name", "before_upgrade")),
    ({"latest": True}, ("latest", None)),
])
def test_recovery_targets_from_the_command_line(options, expected):
    assert targets.parse(**options) == expected


@pytest.mark.parametrize("options, message", [
    ({}, "give exactly one of --target-time, --target-lsn, --target-name or --latest."),
    ({"latest": True, "target_lsn": "0/1"}, "give exactly one of"),
    ({"target_time": "yesterday"}, "--target-time='yesterday' is not valid: expected an ISO 8601 time"),
])
def test_bad_recovery_targets_are_refused_with_one_line(options, message):
    with pytest.raises(ConfigError) as caught:
        targets.parse(**options)
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(message)


def test_a_node_holds_its_data_while_the_chosen_node_still_runs_as_the_old_primary(tmp_path):
    import threading
    from types import SimpleNamespace

    from pgcluster.cluster import plan as plans
    from pgcluster.node import restore

    from .helpers import primary

    plan = plans.Plan(id="20261202T085114Z", primary="pgslave3", hosts=("pgmaster", "pgslave3"), data="d", target="t")
    (tmp_path / plan.id).mkdir()
    plans.write(plan, str(tmp_path))
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("17\n")
    asked, waits = [], []

    class Client:  # pgslave3 answers as a running primary all along: first the old one, then the restored one
        def ask(self, host, timeout):
            asked.append(host)
            return primary("pgslave3")

    def wait(seconds):  # each round of holding; pgslave3 takes the restored data at the third
        waits.append(seconds)
        if len(waits) == 3:
            plan.mark_applied("pgslave3", str(tmp_path))
        return False

    cfg = SimpleNamespace(host="pgmaster", pgdata=str(pgdata))
    stopping = threading.Event()
    stopping.wait = wait
    assert restore.apply(cfg, plan, Client(), stopping, directory=str(tmp_path))
    assert len(waits) == 3 and asked == ["pgslave3"]  # the old primary's answers alone did not release it
    assert not (pgdata / "PG_VERSION").exists()
