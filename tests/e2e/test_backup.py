"""Continuous backups that follow the primary, and point-in-time recovery (issue: backups).

One cluster goes through the scenarios in order: the first backup and the
metrics, a point-in-time recovery, a failover followed by recovery to a time
after it, and retention. Smaller clusters check synchronous WAL to Barman and
bad input.
"""
import re
import time
from datetime import datetime

import psycopg2
import pytest

from pgcluster import db

from .cluster import SERVICES, failed_start, wait_for
from .conftest import cluster_fixture, start_cluster

BARMAN = ("barman", "-c", "/etc/pgcluster/barman.conf")


cluster = cluster_fixture("backup")


def backup_ids(cluster):
    """Every backup's id, newest first."""
    out = cluster.exec("backup", *BARMAN, "list-backups", "--minimal", "pg_cluster").stdout
    return out.split()


def backup_now(cluster, *args):
    """Take a base backup with `pgcluster backup` and return its id (log lines may come before the answer)."""
    out = cluster.exec("backup", "pgcluster", "backup", *args, timeout=300).stdout
    return re.search(r"^Backup (\S+) is complete\.$", out, re.M).group(1)


def info_path(backup_id):
    return f"/var/lib/barman/pg_cluster/meta/{backup_id}-backup.info"  # Barman 3.13.2 and later


def backup_info(cluster, backup_id):
    text = cluster.exec("backup", "cat", info_path(backup_id)).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def metrics(cluster):
    """{name: value} from /metrics, checking the Prometheus text format line by line."""
    text = cluster.fetch("backup", 8080, "/metrics")
    helped, typed, values = set(), set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("gauge", "counter"), line
            typed.add(name)
        else:
            match = re.fullmatch(r'([a-z_]+)\{(?:server="pg_cluster"|name="backup")\} (-?[0-9.e+]+)', line)
            assert match, f"not Prometheus text: {line!r}"
            assert match.group(1) in helped and match.group(1) in typed, f"no HELP/TYPE for {line!r}"
            values[match.group(1)] = float(match.group(2))
    return values


def recover(cluster, *args):
    return cluster.exec("backup", "pgcluster", "recover", *args, timeout=900)


def utc_now(cluster):
    """The primary's clock now, to the microsecond, as --target-time takes it. Taken between two
    acknowledged commits, it falls strictly between their commit timestamps."""
    return cluster.query(cluster.primary, "SELECT to_char(clock_timestamp() AT TIME ZONE 'utc', "
                                          "'YYYY-MM-DD HH24:MI:SS.US')")[0][0]


def through_pgpool(cluster, sql, expected):
    """Wait until pgpool answers sql with expected: it follows a new primary within seconds."""
    wait_for(lambda: cluster.query("pgpool", sql, timeout=5) == expected, 60, f"pgpool to answer {sql!r}")


def writes_through_pgpool(cluster, sql):
    cluster.query("pgpool", sql, timeout=10)


def test_a_backup_completes_on_a_fresh_cluster_without_waiting_for_the_schedule(cluster):
    cluster.wait_healthy(["backup"], timeout=300)
    assert backup_ids(cluster), "no backup"
    assert cluster.exec("backup", "healthchecks/barman_check").returncode == 0
    values = wait_for(lambda: (m := metrics(cluster)).get("barman_backups", 0) >= 1 and m, 60, "metrics of a backup")
    assert values["barman_check_ok"] == 1
    assert values["barman_last_backup_size_bytes"] > 1_000_000
    assert abs(values["barman_last_backup_end_timestamp_seconds"] - time.time()) < 3600
    assert values["barman_last_backup_duration_seconds"] >= 0
    assert values["barman_wal_archive_delay_seconds"] >= 0 and values["barman_disk_free_bytes"] > 0


def test_point_in_time_recovery_brings_back_exactly_the_rows_committed_before_t(cluster):
    writes_through_pgpool(cluster, "CREATE TABLE ledger (id int PRIMARY KEY); "
                                   "INSERT INTO ledger SELECT generate_series(1, 100)")
    target = utc_now(cluster)  # after the first commit was acknowledged, before the second is sent
    writes_through_pgpool(cluster, "INSERT INTO ledger SELECT generate_series(101, 200)")
    writes_through_pgpool(cluster, "DROP TABLE ledger")
    out = recover(cluster, "--target-time", target).stdout
    assert f"The cluster is back at {target}" in out
    through_pgpool(cluster, "SELECT count(*), max(id) FROM ledger", [(100, 100)])
    cluster.primary = cluster.wait_tree(timeout=120)
    for standby in (s for s in SERVICES if s != cluster.primary):
        wait_for(lambda: cluster.query(standby, "SELECT count(*) FROM ledger")[0][0] == 100, 60,
                 f"the recovered rows on {standby}")
    writes_through_pgpool(cluster, "INSERT INTO ledger VALUES (1000)")


def test_recovery_into_a_fresh_directory_for_inspection_leaves_the_cluster_alone(cluster):
    where = "/var/lib/pgcluster/recovery/inspect"
    out = recover(cluster, "--latest", "--into", where).stdout
    assert f"into {where}, up to the latest state (LSN " in out
    listing = cluster.exec("backup", "ls", where).stdout.split()
    assert "PG_VERSION" in listing and "backup_label" in listing
    # A throwaway node on the restored directory, alone, as doc/RECOVERY.md shows.
    inspect = f"{cluster.project}_inspect"
    cluster.docker("rm", "-f", inspect, check=False)
    secrets = [arg for name in ("postgres_password", "replication_password")
               for arg in ("-e", f"{name.upper()}_FILE=/run/secrets/{name}",
                           "-v", f"{cluster.workdir / name}:/run/secrets/{name}:ro")]
    cluster.docker("run", "-d", "--name", inspect, "--hostname", "inspect1", "-e", "NODE_NAME=inspect1",
                   "-e", "TLS_REQUIRED=0",
                   "-e", f"PGDATA={where}", *secrets, "-v", f"{cluster.project}_recovery:/var/lib/pgcluster/recovery",
                   "-p", "127.0.0.1::5432", "postgis-cluster/postgis:latest")
    try:
        port = int(cluster.docker("port", inspect, "5432").stdout.split(":")[-1])

        def restored(sql):
            conn = db.connect("127.0.0.1", port, "postgres", "app", cluster.password, timeout=3)
            try:
                return db.rows(conn, sql, timeout=5)
            finally:
                conn.close()

        try:
            wait_for(lambda: restored("SELECT NOT pg_is_in_recovery()") == [(True,)], 120,
                     "the inspection node to be promoted")
        except AssertionError as exc:  # what the node did says why
            log = cluster.docker("logs", "--tail", "40", inspect, check=False)
            raise AssertionError(f"{exc}; the inspection node's log ends:\n{log.stdout}{log.stderr}") from None
        assert restored("SELECT count(*) FROM ledger") == [(101,)]
    finally:
        logs = cluster.docker("logs", inspect, check=False)
        (cluster.workdir / "inspect.log").write_text(logs.stdout + logs.stderr)
        cluster.docker("rm", "-f", inspect, check=False)
    assert cluster.tree_is_whole() == cluster.primary
    cluster.exec("backup", "rm", "-rf", where)


def test_backups_follow_a_failover_and_recovery_reaches_rows_written_after_it(cluster):
    before = len(backup_ids(cluster))
    old = cluster.primary
    # The old primary's last record ends a segment that Barman has received (a WAL switch, as after every
    # backup; its background writer stopped so that no standby snapshot follows the switch): the new
    # timeline begins exactly where Barman's stream of the old one ends.
    cluster.exec(old, "pkill", "-STOP", "-f", "postgres: .*background writer")
    switched = cluster.query(old, "SELECT pg_switch_wal(), pg_current_wal_lsn()")[0][1]
    wait_for(lambda: cluster.query(old, "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn >= %s OR "
                                        "(application_name = 'barman_receive_wal' AND flush_lsn >= %s)",
                                   (switched, switched))[0][0] >= 3, 30, "Barman and the standbys to have the segment")
    assert cluster.query(old, "SELECT pg_current_wal_lsn()::text")[0][0] == switched
    cluster.kill(old)
    survivors = tuple(s for s in SERVICES if s != old)
    cluster.primary = cluster.wait_tree(services=survivors, timeout=120)
    began = cluster.query(cluster.primary, "SELECT split_part(pg_read_file('pg_wal/' || substr(pg_walfile_name("
                                           "pg_current_wal_lsn()), 1, 8) || '.history'), E'\\t', -2)")[0][0]
    assert began.endswith("000000"), f"the new timeline began at {began}, not at a segment boundary"
    wait_for(lambda: len(backup_ids(cluster)) > before, 180, "a new backup from the new primary")
    wait_for(lambda: cluster.exec("backup", "healthchecks/barman_check", check=False).returncode == 0, 120,
             "barman check to pass after the failover")
    writes_through_pgpool(cluster, "CREATE TABLE after_failover (id int); "
                                   "INSERT INTO after_failover SELECT generate_series(1, 50)")
    target = utc_now(cluster)
    writes_through_pgpool(cluster, "DROP TABLE after_failover")
    cluster.start(old)
    cluster.wait_tree(timeout=120)
    recover(cluster, "--target-time", target)
    through_pgpool(cluster, "SELECT count(*) FROM after_failover", [(50,)])
    through_pgpool(cluster, "SELECT count(*) FROM ledger", [(101,)])
    cluster.primary = cluster.wait_tree(timeout=120)


def newest_backup_covers_the_primary_timeline(cluster):
    """True once the newest backup is complete and on the timeline the primary writes on."""
    timeline = cluster.query(cluster.primary, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))"
                                              "::bit(32)::int")[0][0]
    info = backup_info(cluster, backup_ids(cluster)[0])
    return info["status"] == "DONE" and info["timeline"] == str(timeline)


def test_retention_removes_backups_outside_the_recovery_window(cluster):
    # The recovery moved the primary to a new timeline: let the scheduler's backup for it finish,
    # so that no backup starts while the test takes its own.
    wait_for(lambda: newest_backup_covers_the_primary_timeline(cluster), 300,
             "the backup that follows the recovery to finish")
    cluster.exec("backup", "pgcluster", "backup", timeout=300)
    ids = backup_ids(cluster)  # newest first
    assert len(ids) >= 3
    # Age the two oldest backups far past the 7-day window. The newer of them is still needed
    # to recover to the window's start; the older one is obsolete, and cron removes it.
    for backup_id, day in ((ids[-1], "01"), (ids[-2], "02")):
        cluster.exec("backup", "sed", "-i", "-E", rf"s/^(begin|end)_time=[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}/\1_time=2000-01-{day}/",
                     info_path(backup_id))
    cluster.exec("backup", *BARMAN, "cron", timeout=120)
    wait_for(lambda: ids[-1] not in backup_ids(cluster), 60, "the obsolete backup to be removed")
    assert backup_ids(cluster) == ids[:-1]


EVERY_MINUTE = "  backup:\n    environment: {INCREMENTAL_BACKUP_SCHEDULE: '* * * * *'}\n"


def test_incremental_backups_on_their_schedule_restore_exactly_and_retire_as_a_chain(tmp_path):
    c = start_cluster("incremental", tmp_path, services_yaml=EVERY_MINUTE)
    try:
        c.wait_healthy(["backup"], timeout=300)
        first = backup_ids(c)[-1]
        c.query("pgmaster", "CREATE TABLE ledger (id int PRIMARY KEY, pad text); "
                            "INSERT INTO ledger SELECT g, repeat('x', 200) FROM generate_series(1, 1000) g")
        written = time.time()

        def incremental():
            for backup_id in backup_ids(c):
                info = backup_info(c, backup_id)
                if info.get("parent_backup_id") not in (None, "None") and info["status"] == "DONE" and \
                        datetime.fromisoformat(info["begin_time"]).timestamp() > written:
                    return backup_id
            return None

        child = wait_for(incremental, 150, "an incremental backup on INCREMENTAL_BACKUP_SCHEDULE after the rows")
        info = backup_info(c, child)
        assert int(info["deduplicated_size"]) < int(backup_info(c, first)["deduplicated_size"]) / 2, info
        wait_for(lambda: metrics(c).get("barman_incremental_backups", 0) >= 1, 120, "the incremental backup's metrics")
        c.query("pgmaster", "INSERT INTO ledger SELECT g, 'y' FROM generate_series(1001, 1100) g")
        target = c.query("pgmaster", "SELECT to_char(clock_timestamp() AT TIME ZONE 'utc', "
                                     "'YYYY-MM-DD HH24:MI:SS.US')")[0][0]
        c.query("pgmaster", "INSERT INTO ledger SELECT g, 'z' FROM generate_series(1101, 1200) g")
        said = recover(c, "--target-time", target).stdout
        c.primary = c.wait_tree(timeout=120)
        assert c.query(c.primary, "SELECT count(*), max(id) FROM ledger") == [(1100, 1100)]
        assert f"Restoring backup {child} " in said  # the newest backup before T: the incremental
        # Retention: the first full backup and its incremental child leave together once the window is past
        # them; a newer full backup, aged to just after them, is what recovery to the window's start needs.
        kept = backup_now(c)
        for backup_id, day in ((first, "01"), (kept, "02")):
            c.exec("backup", "sed", "-i", "-E", rf"s/^(begin|end)_time=[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}/\1_time=2000-01-{day}/",
                   info_path(backup_id))
        c.exec("backup", *BARMAN, "cron", timeout=120)
        wait_for(lambda: first not in backup_ids(c), 60, "the obsolete chain to be removed")
        assert child not in backup_ids(c) and kept in backup_ids(c)
    finally:
        c.down()


SYNC = "".join(f"  {s}:\n    environment: {{SYNCHRONOUS_BACKUP: '1'}}\n" for s in SERVICES)


def test_synchronous_backup_acknowledges_commits_only_once_barman_has_them(tmp_path):
    c = start_cluster("syncbackup", tmp_path, services_yaml=SYNC)
    try:
        wait_for(lambda: c.query("pgmaster", "SELECT sync_state FROM pg_stat_replication "
                                             "WHERE application_name = 'barman_receive_wal'") == [("sync",)],
                 120, "Barman's receiver to become the synchronous standby")
        c.query("pgmaster", "INSERT INTO writes (n) VALUES (1)")
        c.stop("backup")
        with pytest.raises(psycopg2.OperationalError):
            c.query("pgmaster", "INSERT INTO writes (n) VALUES (2)", timeout=3)
        c.start("backup")
        wait_for(lambda: c.query("pgmaster", "SELECT count(*) FROM writes WHERE n = 2")[0][0] == 1, 120,
                 "the waiting commit to complete once Barman is back")
    finally:
        c.down()


BAD_BACKUP = """
services:
  backup:
    image: postgis-cluster/barman:latest
    restart: "no"
    environment:
      REPLICATION_HOST: pgmaster
      REPLICATION_PASSWORD: secret
      TLS_REQUIRED: "0"  # no TLS files: these start without TLS
{extra}
"""


@pytest.mark.parametrize("name, extra, message", [
    ("schedule", "      POSTGRES_PASSWORD: secret\n      BACKUP_SCHEDULE: '0 25 * * *'",
     "pgcluster: BACKUP_SCHEDULE='0 25 * * *' is not valid: expected a cron expression of five fields"),
    ("incremental", "      POSTGRES_PASSWORD: secret\n      INCREMENTAL_BACKUP_SCHEDULE: '*/15 * *'",
     "pgcluster: INCREMENTAL_BACKUP_SCHEDULE='*/15 * *' is not valid: expected a cron expression of five fields"),
    ("retention", "      POSTGRES_PASSWORD: secret\n      BACKUP_RETENTION_DAYS: 'week'",
     "pgcluster: BACKUP_RETENTION_DAYS='week' is not valid: expected an integer from 1 to 3650."),
    ("nopw", "", "pgcluster: POSTGRES_PASSWORD is required: set it (or POSTGRES_PASSWORD_FILE)."),
])
def test_bad_input_stops_the_backup_container_with_one_clear_line(tmp_path, name, extra, message):
    with failed_start(tmp_path, f"badbackup{name}", BAD_BACKUP.format(extra=extra), "backup") as (_, lines):
        assert len(lines) == 1 and lines[0].startswith(message), lines
