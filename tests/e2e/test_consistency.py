"""Consistency modes, and rejoining by a fresh clone (issue: failover, safe restarts, fencing).

A standby that stops acknowledging is provoked by freezing its walreceiver
process (SIGSTOP): the node stays up and answers its partners, so no fencing
or failover interferes, but no WAL reaches it.
"""
import itertools
import time

import psycopg2
import pytest

from .cluster import NODE_NAMES, PGBOUNCER, ROUTERS, SERVICES, wait_for
from .conftest import cluster_fixture, start_cluster, writer_for
from .writer import Writer

STRICT = """\
  pgmaster:
    environment: {CONSISTENCY_MODE: strict, CLEAN_OVER_REWIND: "1"}
  pgslave1:
    environment: {CONSISTENCY_MODE: strict}
  pgslave2:
    environment: {CONSISTENCY_MODE: strict}
  pgslave3:
    environment: {CONSISTENCY_MODE: strict}
"""
FIRST_LEVEL_STANDBYS = ("pgslave1", "pgslave3")


strict = cluster_fixture("strict", STRICT)


def freeze_receivers(cluster, signal):
    for standby in FIRST_LEVEL_STANDBYS:
        cluster.exec(standby, "pkill", f"-{signal}", "-f", "walreceiver")


def insert(cluster, service, n, timeout=3):
    cluster.query(service, "INSERT INTO writes (n) VALUES (%s)", (n,), timeout=timeout)


def test_strict_commits_wait_for_one_standby(strict):
    wait_for(lambda: strict.query("pgmaster", "SHOW synchronous_standby_names")[0][0]
             == 'ANY 1 ("node2", "node3", "node4")', 30, "the synchronous standby list")
    # Barman's first backup (barman_streaming_backup) may still be copying when the cluster is new.
    states = dict(strict.query("pgmaster", "SELECT application_name, sync_state FROM pg_stat_replication "
                                           "WHERE application_name <> 'barman_streaming_backup'"))
    assert states == {"node2": "quorum", "node4": "quorum", "barman_receive_wal": "async"}


def test_strict_blocks_commits_while_no_standby_receives(strict):
    freeze_receivers(strict, "STOP")
    try:
        with pytest.raises(psycopg2.OperationalError):
            insert(strict, "pgmaster", 100, timeout=4)
    finally:
        freeze_receivers(strict, "CONT")
    numbers = itertools.count(101)
    wait_for(lambda: insert(strict, "pgmaster", next(numbers)) is None, 30, "commits to flow again")


def test_strict_failover_loses_no_acknowledged_commit(strict):
    writer = writer_for(strict, warm=20)
    killed_at = time.monotonic()
    strict.kill("pgmaster")
    wait_for(lambda: writer.first_ack_after(killed_at, not_on="node1"), 60, "a write on the new primary")
    writer.stop()
    survivors = tuple(s for s in SERVICES if s != "pgmaster")
    strict.primary = strict.wait_tree(services=survivors)
    present = {n for (n,) in strict.query(strict.primary, "SELECT n FROM writes")}
    assert writer.numbers() <= present, f"lost acknowledged rows: {sorted(writer.numbers() - present)}"


def test_old_primary_rejoins_by_a_fresh_clone_with_clean_over_rewind(strict):
    strict.start("pgmaster")
    assert strict.wait_tree() == strict.primary
    logs = strict.logs("pgmaster")
    assert f"this node was primary but {strict.primary} is the primary now; re-cloning from it " \
           "(CLEAN_OVER_REWIND)" in logs
    assert "pg_rewind" not in logs


def test_strict_a_frozen_primary_is_replaced_and_steps_down_once_it_wakes(strict):
    """The standby that promotes itself records it in repmgr's metadata without waiting for a standby of its
    own (none streams from it yet); when that commit waited, its supervisor hung, its status endpoint kept
    calling it a standby, and the old primary woke to run beside it for good (faults in sequence)."""
    old = strict.primary
    strict.wait_repmgrd_settled([s for s in SERVICES if s != old])
    writer = writer_for(strict, warm=20)
    strict.pause(old)
    paused_at = time.monotonic()
    try:
        wait_for(lambda: writer.first_ack_after(paused_at, not_on=NODE_NAMES[old]), 60, "a write on a new primary")
    finally:
        strict.unpause(old)
    strict.primary = strict.wait_tree(timeout=120)
    assert strict.primary != old
    assert strict.writable() == [strict.primary]
    writer.stop()
    present = {n for (n,) in strict.query(strict.primary, "SELECT n FROM writes")}
    assert writer.numbers() <= present, f"lost acknowledged rows: {sorted(writer.numbers() - present)}"


def test_strict_switchover_fails_no_transaction_and_loses_no_acknowledged_commit(strict):
    """CONSISTENCY_MODE=strict keeps its promise across a planned switchover: no transaction through the
    pooled endpoint fails, and every one acknowledged is on the new primary."""
    old = strict.primary
    target = next(s for s in ("pgmaster",) + FIRST_LEVEL_STANDBYS if s != old)
    writer = Writer(lambda: strict.published(ROUTERS, PGBOUNCER), strict.password, timeout=10, routers=True)
    writer.start()
    wait_for(lambda: len(writer.acked) > 20, 30, "writes through PgBouncer")
    started = time.monotonic()
    out = strict.exec("pgpool", "pgcluster", "switchover", "--to", target, timeout=180).stdout
    assert f"switchover done: {target} is the primary" in out, out
    wait_for(lambda: sum(1 for _, t, _ in writer.acked if t > started) > 40, 60, "writes after the switchover")
    writer.stop()
    assert writer.errors == 0, f"{writer.errors} transactions failed through PgBouncer"
    strict.primary = strict.wait_tree(timeout=120)
    assert strict.primary == target and strict.writable() == [target]
    present = {n for (n,) in strict.query(target, "SELECT n FROM writes")}
    assert writer.numbers() <= present, f"lost acknowledged rows: {sorted(writer.numbers() - present)}"


def test_partially_strict_keeps_writing_without_standbys(tmp_path):
    partial = STRICT.replace("strict", "partially_strict").replace(', CLEAN_OVER_REWIND: "1"', "")
    c = start_cluster("partial", tmp_path, services_yaml=partial)
    try:
        wait_for(lambda: c.query("pgmaster", "SHOW synchronous_standby_names")[0][0].startswith("ANY 1"), 30,
                 "the synchronous standby list")
        freeze_receivers(c, "STOP")
        try:
            numbers = itertools.count(200)  # a timed-out attempt may still commit once the wait is lifted
            wait_for(lambda: insert(c, "pgmaster", next(numbers), timeout=2) is None, 30,
                     "a commit once no standby answers")
        finally:
            freeze_receivers(c, "CONT")
        wait_for(lambda: c.query("pgmaster", "SHOW synchronous_standby_names")[0][0].startswith("ANY 1"), 30,
                 "commits to wait for a standby again")
    finally:
        c.down()
