"""Network partitions, frozen nodes and cascades (issue: failover, safe restarts, fencing).

One cluster goes through the scenarios in order: the primary is cut off and
fences itself, comes back and rejoins; the new primary is frozen and steps
down when it wakes; a standby is cut off without any failover; the middle of
the cascade dies and comes back, once with repmgrd moving the cascade to the
primary and once with repmgrd frozen, so that pgcluster must; and a primary
frozen with a standby (a frozen host) while writes go through the routers.
"""
import time

import pytest

from .cluster import NODE_NAMES, ROUTERS, SERVICES, wait_for
from .conftest import cluster_fixture, writer_for

FENCE_TIMEOUT = 3  # the default
FIRST_LEVEL = ("pgmaster", "pgslave1", "pgslave3")


cluster = cluster_fixture("partition")


def direct_write(cluster, service):
    """Try a write on the node itself, through its local socket: True when it was accepted."""
    result = cluster.psql(service, "INSERT INTO writes (n) VALUES (-floor(random() * 1e9)::int)")
    return result.returncode == 0


def test_disconnected_primary_fences_itself_and_a_standby_takes_over(cluster):
    writer = writer_for(cluster)
    assert direct_write(cluster, "pgmaster")
    cut_at = time.monotonic()
    cluster.disconnect("pgmaster")
    wait_for(lambda: not direct_write(cluster, "pgmaster"), FENCE_TIMEOUT + 10, "pgmaster to refuse writes")
    fenced_after = time.monotonic() - cut_at
    assert fenced_after < FENCE_TIMEOUT + 8, f"fenced only after {fenced_after:.1f} s"
    wait_for(lambda: "read-only transaction" in cluster.psql("pgmaster", "INSERT INTO writes (n) VALUES (-3)").stderr,
             30, "pgmaster to serve read-only")
    check = cluster.exec("pgmaster", "healthchecks/is_major_master", check=False)
    assert check.returncode == 1 and "fenced itself" in check.stdout, check.stdout
    wait_for(lambda: writer.first_ack_after(cut_at, not_on="node1"), 60, "writes on a new primary")
    writer.stop()
    survivors = tuple(s for s in SERVICES if s != "pgmaster")
    cluster.primary = cluster.wait_tree(services=survivors)
    assert cluster.primary in FIRST_LEVEL
    assert not direct_write(cluster, "pgmaster"), "the cut-off primary accepts writes again"
    cluster.acked = writer.numbers()


def test_reconnected_primary_rejoins_as_a_standby_with_the_new_rows(cluster):
    cluster.query(cluster.primary, "INSERT INTO writes (n) VALUES (-4)")
    cluster.reconnect("pgmaster")
    assert cluster.wait_tree() == cluster.primary
    wait_for(lambda: cluster.query("pgmaster", "SELECT count(*) FROM writes WHERE n = -4")[0][0] == 1, 30,
             "the new primary's rows on pgmaster")
    assert "rejoining as its standby with pg_rewind" in cluster.logs("pgmaster")  # the decision taken


def test_frozen_primary_steps_down_when_it_wakes(cluster):
    frozen = cluster.primary
    cluster.wait_repmgrd_settled([s for s in SERVICES if s != frozen])
    writer = writer_for(cluster)
    paused_at = time.monotonic()
    cluster.pause(frozen)
    try:
        wait_for(lambda: writer.first_ack_after(paused_at, not_on=NODE_NAMES[frozen]), 60, "writes on a new primary")
    finally:
        cluster.unpause(frozen)
    woke_at = time.monotonic()
    wait_for(lambda: sum(1 for _, t, _ in writer.acked if t > woke_at) > 40, 60, "writes after it woke")
    writer.stop()
    cluster.primary = cluster.wait_tree()
    assert cluster.primary != frozen
    assert not [n for n, t, node in writer.acked if t > woke_at and node == NODE_NAMES[frozen]], \
        "the frozen primary took writes after it woke"


def test_cut_off_standby_causes_no_failover_and_catches_up(cluster):
    standby = next(s for s in FIRST_LEVEL if s != cluster.primary)
    cluster.disconnect(standby)
    try:
        cluster.query(cluster.primary, "INSERT INTO writes (n) VALUES (-5)")
        deadline = time.monotonic() + 15  # longer than failure detection and the fence timeout
        while time.monotonic() < deadline:
            assert cluster.writable() == [cluster.primary]
            assert cluster.psql(standby, "SELECT pg_is_in_recovery()").stdout.strip() == "t"
            time.sleep(1)
    finally:
        cluster.reconnect(standby)
    assert cluster.wait_tree() == cluster.primary
    wait_for(lambda: cluster.query(standby, "SELECT count(*) FROM writes WHERE n = -5")[0][0] == 1, 30,
             f"{standby} to catch up")


def test_cascade_survives_its_upstream_and_the_tree_heals(cluster):
    if cluster.primary == "pgslave1":  # the cascade hangs under pgslave1 only while it is a standby
        pytest.fail("pgslave1 is the primary; the cascade scenario needs it as a standby")
    wait_for(lambda: cluster.sender("pgslave2") == "pgslave1", 60, "pgslave2 to stream from pgslave1")
    cluster.kill("pgslave1")
    cluster.query(cluster.primary, "INSERT INTO writes (n) VALUES (-6)")
    wait_for(lambda: cluster.query("pgslave2", "SELECT count(*) FROM writes WHERE n = -6")[0][0] == 1, 60,
             "the cascade to receive data without its upstream")
    assert cluster.sender("pgslave2") == cluster.primary
    cluster.start("pgslave1")
    wait_for(lambda: cluster.sender("pgslave2") == "pgslave1", 90, "the cascade to return under pgslave1")
    assert cluster.wait_tree() == cluster.primary


def test_cascade_finds_the_primary_when_repmgrd_does_not_move_it(cluster):
    """repmgrd exits at start when its upstream is unreachable; pgcluster then moves the cascade itself."""
    wait_for(lambda: cluster.sender("pgslave2") == "pgslave1", 60, "pgslave2 to stream from pgslave1")
    cluster.wait_repmgrd_settled(["pgslave2"])  # not about to be restarted after a move
    cluster.exec("pgslave2", "pkill", "-STOP", "-x", "repmgrd")  # present, but it decides nothing
    cluster.kill("pgslave1")
    cluster.query(cluster.primary, "INSERT INTO writes (n) VALUES (-7)")
    wait_for(lambda: cluster.query("pgslave2", "SELECT count(*) FROM writes WHERE n = -7")[0][0] == 1, 60,
             "the cascade to receive data without its upstream and without repmgrd")
    assert cluster.sender("pgslave2") == cluster.primary  # moved while its repmgrd was frozen: by pgcluster
    cluster.start("pgslave1")
    wait_for(lambda: cluster.sender("pgslave2") == "pgslave1", 90, "the cascade to return under pgslave1")
    assert cluster.wait_tree() == cluster.primary


def freeze_repmgrd(cluster, services, signal):
    for service in services:
        cluster.exec(service, "pkill", f"-{signal}", "-x", "repmgrd", check=False)


def test_a_failover_does_not_wait_for_repmgrd(cluster):
    """Every standby's repmgrd frozen (present, deciding nothing): the standbys still replace a killed primary."""
    old = cluster.primary
    standbys = [s for s in FIRST_LEVEL if s != old]
    writer = writer_for(cluster)
    freeze_repmgrd(cluster, standbys, "STOP")
    try:
        killed_at = time.monotonic()
        cluster.kill(old)
        wait_for(lambda: writer.first_ack_after(killed_at, not_on=NODE_NAMES[old]), 60, "writes on a new primary")
    finally:
        freeze_repmgrd(cluster, standbys, "CONT")
    writer.stop()
    cluster.start(old)
    cluster.primary = cluster.wait_tree(timeout=120)
    assert cluster.primary in standbys
    present = {n for (n,) in cluster.query(cluster.primary, "SELECT n FROM writes")}
    assert len(writer.numbers() - present) <= 5  # eventual mode may lose the last acknowledged writes


def test_a_primary_frozen_just_as_repmgrd_starts_is_still_replaced(cluster):
    """The known hole: a repmgrd that starts as its upstream freezes. Freeze the primary within a second of
    the standbys' repmgrd starting (pgcluster starts it again within a second when it exits)."""
    frozen = cluster.primary
    standbys = [s for s in FIRST_LEVEL if s != frozen]
    writer = writer_for(cluster)
    freeze_repmgrd(cluster, standbys, "KILL")
    wait_for(lambda: all(cluster.exec(s, "pgrep", "-x", "repmgrd", check=False).returncode == 0 for s in standbys),
             15, "repmgrd to start again", interval=0.1)
    paused_at = time.monotonic()
    cluster.pause(frozen)
    try:
        wait_for(lambda: writer.first_ack_after(paused_at, not_on=NODE_NAMES[frozen]), 60, "writes on a new primary")
    finally:
        cluster.unpause(frozen)
    writer.stop()
    cluster.primary = cluster.wait_tree(timeout=120)
    assert cluster.primary != frozen


def test_a_primary_and_a_standby_frozen_at_once_move_writes_through_the_routers(cluster):
    """A host that freezes stops its primary and a standby at one instant. Detaching pgpool's primary makes
    pgpool search its attached backends for a new one, and the search waited on the frozen standby until it
    thawed: writes through the routers stopped for as long as the host stayed frozen."""
    frozen = [cluster.primary, "pgslave2"]
    cluster.wait_repmgrd_settled([s for s in SERVICES if s not in frozen])
    writer = writer_for(cluster, ROUTERS)
    paused_at = time.monotonic()
    for service in frozen:
        cluster.pause(service)
    try:
        wait_for(lambda: writer.first_ack_after(paused_at, not_on=NODE_NAMES[frozen[0]], sent_after=True), 60,
                 "writes through the routers on a new primary")
    finally:
        for service in frozen:
            cluster.unpause(service)
    writer.stop()
    cluster.primary = cluster.wait_tree(timeout=120)
    assert cluster.primary not in frozen
    assert cluster.writable() == [cluster.primary]
    present = {n for (n,) in cluster.query(cluster.primary, "SELECT n FROM writes")}
    assert len(writer.numbers() - present) <= 5  # eventual mode may lose the last acknowledged writes
