"""Planned switchover: one command, no SSH, no failed transaction through PgBouncer (issue: switchover).

One cluster, pgslave1 at NODE_PRIORITY 0, goes through the scenarios in order: refusals that change
nothing, a switchover under a writer through both routers' PgBouncer, a switchover abandoned because the
target cannot catch up, and one back to the first primary.
"""
import time

import pytest

from .cluster import NODE_NAMES, PGBOUNCER, ROUTERS, SERVICES, wait_for
from .conftest import cluster_fixture
from .writer import Writer

cluster = cluster_fixture("switchover", "  pgslave1:\n    environment: {NODE_PRIORITY: '0'}\n")

CONTROL = ("python3", "-c", """
import sys
from pgcluster import tls
from pgcluster.cluster.control import ControlError, call
tls.use(tls.installed())  # HTTPS with the router's CA, as the pgcluster command does
try:
    print(call(sys.argv[1], 8008, sys.argv[2], sys.argv[3], owner=sys.argv[4], seconds=60))
except ControlError as exc:
    print(exc)
""")


def switchover(cluster, *args, check=True):
    return cluster.exec("pgpool", "pgcluster", "switchover", *args, check=check, timeout=180)


def timeline(cluster, service):
    return cluster.query(service, "SELECT timeline_id FROM pg_control_checkpoint()")[0][0]


def unchanged(cluster, primary, line):
    """The cluster after a refused switchover: the same primary on the same timeline, writing."""
    assert cluster.writable() == [primary], line
    assert cluster.write_via("pgpool") == NODE_NAMES[primary]


def pgbouncer_writer(cluster):
    """A writer through both routers' PgBouncer (libpq multi-host, read-write), patient enough that a pause
    is a delay and not an error: every error it counts is a failed transaction."""
    writer = Writer(lambda: cluster.published(ROUTERS, PGBOUNCER), cluster.password, timeout=10, routers=True)
    writer.start()
    wait_for(lambda: len(writer.acked) > 20, 30, "writes through PgBouncer")
    return writer


@pytest.mark.parametrize("args, refusal", [
    (("--to", "pgslave2"), "pgslave2 is not a first-level standby"),
    (("--to", "pgslave1"), "pgslave1 has NODE_PRIORITY 0, so it is never promoted"),
    (("--to", "nowhere"), "nowhere does not answer"),
])
def test_a_refused_switchover_changes_nothing(cluster, args, refusal):
    before = timeline(cluster, "pgmaster")
    result = switchover(cluster, *args, check=False)
    assert result.returncode == 1 and f"pgcluster: {refusal}" in result.stderr, result.stderr
    unchanged(cluster, "pgmaster", result.stderr)
    assert timeline(cluster, "pgmaster") == before


def test_a_switchover_to_a_stopped_node_or_under_another_ones_lock_is_refused(cluster):
    cluster.stop("pgslave3")
    try:
        result = switchover(cluster, "--to", "pgslave3", check=False)
        assert result.returncode == 1 and "pgslave3 does not answer" in result.stderr, result.stderr
    finally:
        cluster.start("pgslave3")
    cluster.wait_tree()
    secret = cluster.passwords["control_password"]
    assert "'node': 'node1'" in cluster.exec("pgpool", *CONTROL, "pgmaster", secret, "lease", "other").stdout
    try:
        result = switchover(cluster, check=False)
        assert result.returncode == 1 and "another switchover (other) holds the lock" in result.stderr, result.stderr
    finally:
        cluster.exec("pgpool", *CONTROL, "pgmaster", secret, "unlease", "other")
    unchanged(cluster, "pgmaster", result.stderr)


def test_a_control_request_without_the_secret_is_refused_and_logged(cluster):
    said = cluster.exec("pgpool", *CONTROL, "pgmaster", "guess", "demote", "me").stdout
    assert "refused 'demote': a control request needs CONTROL_PASSWORD" in said, said
    assert "Refused a control request (demote) from" in cluster.logs("pgmaster")
    unchanged(cluster, "pgmaster", said)


def test_switchover_under_a_writer_fails_no_transaction_through_pgbouncer(cluster):
    writer = pgbouncer_writer(cluster)
    started = time.monotonic()
    out = switchover(cluster, "--to", "pgslave3").stdout
    assert "switchover done: pgslave3 is the primary, pgmaster rejoins as its standby" in out, out
    wait_for(lambda: sum(1 for _, t, _ in writer.acked if t > started) > 60, 60, "writes after the switchover")
    writer.stop()
    assert writer.errors == 0, f"{writer.errors} transactions failed through PgBouncer"
    assert cluster.wait_tree() == "pgslave3"
    assert {node for _, t, node in writer.acked if t > time.monotonic() - 1} <= {"node4"}
    present = {n for (n,) in cluster.query("pgslave3", "SELECT n FROM writes")}
    assert writer.numbers() <= present
    wait_for(lambda: cluster.sender("pgmaster") == "pgslave3", 60, "pgmaster to stream from pgslave3")
    wait_for(lambda: cluster.sender("pgslave2") == "pgslave1", 60, "the cascade under pgslave1")
    wait_for(lambda: cluster.exec("backup", "healthchecks/barman_check", check=False).returncode == 0, 120,
             "Barman to follow the new primary")
    cluster.exec("backup", "pgcluster", "backup", timeout=300)


def test_a_switchover_whose_target_cannot_catch_up_is_abandoned(cluster):
    cluster.query("pgmaster", "SELECT pg_wal_replay_pause()")
    try:
        cluster.query("pgslave3", "INSERT INTO writes (n) VALUES (-floor(random() * 1e9)::bigint)")
        result = switchover(cluster, "--to", "pgmaster", "--timeout", "3", check=False)
        assert result.returncode == 1 and "abandoned: pgslave3 is the primary again" in result.stderr, result.stderr
        wait_for(lambda: cluster.writable() == ["pgslave3"], 60, "pgslave3 to take writes again")
        wait_for(lambda: cluster.query("pgpool", "SELECT 1", private=PGBOUNCER) == [(1,)], 30, "PgBouncer to serve")
        assert cluster.query("pgpool", "INSERT INTO writes (n) VALUES (-1) RETURNING "
                                       "split_part(current_setting('cluster_name'), '/', 2)",
                             private=PGBOUNCER)[0][0] == "node4"
    finally:
        cluster.query("pgmaster", "SELECT pg_wal_replay_resume()")


def test_switching_back(cluster):
    writer = pgbouncer_writer(cluster)
    out = switchover(cluster, "--to", "pgmaster").stdout
    writer.stop()
    assert "switchover done: pgmaster is the primary" in out, out
    assert writer.errors == 0
    assert cluster.wait_tree(services=SERVICES) == "pgmaster"
