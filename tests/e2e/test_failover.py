"""Automatic failover and safe restarts (issue: failover, safe restarts, fencing).

One cluster goes through the scenarios in order: the primary is killed, the
old primary comes back, the new primary is killed too, and the whole cluster
restarts in a different order than it stopped. pgslave1 has NODE_PRIORITY 0, so
neither failover may promote it.
"""
import time

from .cluster import NODE_NAMES, SERVICES, wait_for
from .conftest import cluster_fixture, writer_for

FIRST_LEVEL = ("pgmaster", "pgslave1", "pgslave3")
NEVER_PROMOTED = "pgslave1"
PRIORITY_0 = f"  {NEVER_PROMOTED}:\n    environment: {{NODE_PRIORITY: '0'}}\n"


cluster = cluster_fixture("failover", PRIORITY_0)


def kill_primary_under_writes(cluster, primary):
    """Kill the primary while a client writes; return (new primary, seconds to the first write there)."""
    writer = writer_for(cluster)
    killed_at = time.monotonic()
    cluster.kill(primary)
    first = wait_for(lambda: writer.first_ack_after(killed_at, not_on=NODE_NAMES[primary]), 60, "a write acknowledged after the kill")
    wait_for(lambda: len(writer.acked) > 20 + len([a for a in writer.acked if a[1] < first]), 20,
             "writes to keep flowing")
    writer.stop()
    survivors = tuple(s for s in SERVICES if s != primary)
    new_primary = cluster.wait_tree(services=survivors)
    assert new_primary in FIRST_LEVEL and new_primary not in (primary, NEVER_PROMOTED)
    missing = writer.numbers() - {n for (n,) in cluster.query(new_primary, "SELECT n FROM writes")}
    cluster.lost = sorted(missing)  # asynchronous mode may lose the last acknowledged writes
    return new_primary, first - killed_at


def test_kill_primary_promotes_a_first_level_standby(cluster):
    new_primary, seconds = kill_primary_under_writes(cluster, "pgmaster")
    assert seconds < 30, f"first write on the new primary after {seconds:.1f} s"
    assert len(cluster.lost) <= 5, f"lost {len(cluster.lost)} acknowledged writes"
    cluster.primary = new_primary


def test_old_primary_rejoins_as_standby_with_rewind(cluster):
    cluster.query(cluster.primary, "INSERT INTO writes (n) VALUES (-1)")
    cluster.start("pgmaster")
    assert cluster.wait_tree() == cluster.primary
    wait_for(lambda: cluster.query("pgmaster", "SELECT count(*) FROM writes WHERE n = -1")[0][0] == 1, 30,
             "the row written on the new primary to reach the old one")
    # The rejoin is logged once repmgr has registered it, which can be a second after the node streams.
    wait_for(lambda: f"Rejoined as a standby of {cluster.primary}." in cluster.logs("pgmaster"), 30,
             "pgmaster to log its rejoin")
    logs = cluster.logs("pgmaster")
    assert f"this node was primary but {cluster.primary} is the primary now; rejoining as its standby " \
           "with pg_rewind" in logs
    assert "cloning afresh" not in logs


def test_second_failover_in_a_row(cluster):
    first = cluster.primary
    second, seconds = kill_primary_under_writes(cluster, first)
    assert seconds < 30
    cluster.primary = second
    cluster.start(first)
    assert cluster.wait_tree() == second


def test_whole_cluster_restart_in_another_order_keeps_the_most_advanced_primary(cluster):
    primary = cluster.primary
    cluster.query(primary, "INSERT INTO writes (n) VALUES (-2)")
    cluster.stop()
    order = ["pgpool"] + [s for s in SERVICES if s != primary] + [primary, "backup"]  # the primary comes back last
    for service in order:
        cluster.start(service)
    assert cluster.wait_tree(timeout=120) == primary
    assert cluster.query(primary, "SELECT count(*) FROM writes WHERE n = -2")[0][0] == 1
    cluster.wait_healthy(SERVICES)
