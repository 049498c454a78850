"""The Swarm stack across three Docker hosts (issue: beyond one host), judged from the client's side.

One swarm of three Docker-in-Docker hosts (hosts.py), docker-compose/stack.yml deployed on it in strict mode, and
each fault of the primary's host in turn (scenario.py): killed, then brought back; frozen; cut off from the
other two; then the stack removed and deployed again on the same volumes. Each scenario ends with every
acknowledged row on the primary, no sample with two writable nodes, and the old primary a standby. Last, a
second stack beside the first on the same swarm, which neither sees nor disturbs it.
"""
import json
import time

import pytest

from pgcluster import db
from tests.e2e.cluster import wait_for

from .hosts import LABELS, SECOND_STACK_PORTS, Swarm, build_host_image, elapsed
from .scenario import REJOIN_WITHIN, converged, deploy, inflict, save_logs

REPORT = {}  # per scenario: seconds to the first write on another node, and more; written to report.json
# The second stack: the primary, one standby and one router of the same stack file, on ports of their own.
SMALL_STACK = """version: "3.8"
services:
  pgslave2: {deploy: {replicas: 0}}
  pgslave3: {deploy: {replicas: 0}}
  pgpool2: {deploy: {replicas: 0}}
  backup: {deploy: {replicas: 0}}
"""


@pytest.fixture(scope="module")
def swarm(tmp_path_factory):
    build_host_image()
    s = Swarm("multihost", tmp_path_factory.mktemp("multihost"))
    try:
        deploy(s, mode="strict")
        yield s
    finally:
        (s.workdir / "report.json").write_text(json.dumps(REPORT, indent=2))  # the figures of doc/BENCHMARKS.md
        save_logs(s)
        s.down()


def judged(swarm, kind):
    outcome = REPORT[kind] = inflict(swarm, kind)
    assert outcome["new"] != outcome["old"], f"{outcome['old']} is primary again"
    assert outcome["old_rejoined"], f"{outcome['old']} did not rejoin as a standby"
    assert outcome["lost"] == 0, f"{outcome['lost']} acknowledged rows are missing on {outcome['new']}"
    assert not outcome["two_writable"], f"two writable nodes: {outcome['two_writable']}"


def test_the_stack_runs_one_node_per_labelled_host(swarm):
    for host, label in zip(swarm.hosts, LABELS, strict=True):
        assert label in swarm.tasks(host), (host, swarm.tasks(host))
    assert set(swarm.tasks(swarm.hosts[1])) >= {"pgslave1", "pgpool"}
    assert set(swarm.tasks(swarm.hosts[2])) >= {"pgslave3", "pgslave2", "pgpool2", "backup"}
    # Replication crosses the hosts over TLS.
    assert swarm.psql("pgmaster", "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_replication USING (pid)") == "t"


def test_killing_the_primarys_host_moves_writes_to_another_host_and_the_host_rejoins(swarm):
    judged(swarm, "kill")


def test_freezing_the_primarys_host(swarm):
    judged(swarm, "pause")


def test_cutting_the_primarys_host_off_from_the_other_two(swarm):
    judged(swarm, "partition")


def test_the_stack_removed_and_deployed_again_keeps_its_primary_and_data(swarm):
    primary = wait_for(lambda: converged(swarm), REJOIN_WITHIN, "a converged cluster")
    rows = swarm.psql(primary, "SELECT count(*), max(n) FROM writes")
    since = time.monotonic()
    swarm.remove()
    swarm.deploy(mode="strict")
    assert wait_for(lambda: converged(swarm), 600, "the stack to come back") == primary
    assert swarm.psql(primary, "SELECT count(*), max(n) FROM writes") == rows
    REPORT["redeploy"] = {"primary": primary, "seconds": elapsed(since)}


def test_a_second_stack_on_the_same_swarm_is_a_cluster_of_its_own(swarm, tmp_path):
    first = wait_for(lambda: converged(swarm), REJOIN_WITHIN, "a converged cluster")
    rows = swarm.psql(first, "SELECT count(*) FROM writes")
    other = Swarm("multihost", tmp_path, stack="pg2")  # the same hosts, another stack and other secrets
    other.deploy(mode="eventual", env=SECOND_STACK_PORTS, override=SMALL_STACK)
    try:
        streaming = "SELECT string_agg(application_name, ',') FROM pg_stat_replication WHERE state = 'streaming'"
        wait_for(lambda: other.psql("pgmaster", streaming) == "node2", 600, "the second stack's standby to stream")
        identifier = "SELECT system_identifier FROM pg_control_system()"
        assert other.psql("pgmaster", identifier) != swarm.psql(first, identifier)
        assert other.psql("pgmaster", "SELECT string_agg(node_name, ',' ORDER BY node_name) FROM repmgr.nodes",
                          dbname="replication_db") == "node1,node2"
        # Names resolve on the stack's own network only: the first stack's pgslave3, pgpool2 and backup run on
        # these hosts, and the second stack's containers do not find them.
        for name in ("pgslave3", "pgpool2", "backup"):
            assert other.exec("pgmaster", "getent", "hosts", name, check=False).returncode != 0, name

        def write_through_its_router():
            host, _ = other.where("pgpool")
            conn = db.connect("127.0.0.1", other.port(host, SECOND_STACK_PORTS["PGPOOL_PORT"]), "postgres", "app",
                              other.password(), timeout=5)
            try:
                db.execute(conn, "CREATE TABLE IF NOT EXISTS second_stack (n int)")
                statuses = {row[1]: row[3] for row in db.rows(conn, "SHOW pool_nodes")}
            finally:
                conn.close()
            return statuses

        statuses = wait_for(write_through_its_router, 300, "a write through the second stack's pgpool")
        assert statuses["pgmaster"] == "up" and statuses["pgslave1"] == "up", statuses
        assert statuses["pgslave3"] != "up" and statuses["pgslave2"] != "up", statuses  # not the first stack's
        assert other.psql("pgmaster", "SELECT to_regclass('second_stack') IS NOT NULL") == "t"
        assert wait_for(lambda: converged(swarm), REJOIN_WITHIN, "the first stack, whole") == first
        assert swarm.psql(first, "SELECT to_regclass('second_stack') IS NULL") == "t"
        assert swarm.psql(first, "SELECT count(*) FROM writes") == rows
    finally:
        other.remove()
