"""One fault of the primary's host at a time, judged from the client's side: shared by tests/multihost and
bench/failover --multihost.

A writer through both routers (a multi-host list of the routers' ports on 127.0.0.1) and a sampler of writable
nodes run while the fault is provoked and healed; the outcome is the seconds to the first write acknowledged by
another node, the acknowledged rows missing on the primary afterwards, and the samples with two writable nodes.
"""
import threading
import time

from pgcluster import db
from tests.e2e.cluster import wait_for
from tests.e2e.writer import Writer

NODES = ("pgmaster", "pgslave1", "pgslave2", "pgslave3")
FIRST_LEVEL = ("pgmaster", "pgslave1", "pgslave3")
NODE_NAMES = {"pgmaster": "node1", "pgslave1": "node2", "pgslave2": "node3", "pgslave3": "node4"}
# A failover on one host takes 6-7 s through the routers (doc/BENCHMARKS.md); across hosts Swarm's overlay, DNS
# and a frozen host's partners add to it. Generous sanity bounds only: the figures are bench/failover --multihost.
RESUME_WITHIN = 90
REJOIN_WITHIN = 300


class Sampler(threading.Thread):
    """Every two seconds, which nodes accept writes (asked inside each node's container, so a node cut off from
    the network is asked too; a frozen host answers nothing and acknowledges nothing)."""

    def __init__(self, swarm):
        super().__init__(daemon=True)
        self.swarm = swarm
        self.samples, self.two_writable = 0, []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(2.0):
            writable = sorted(s for s in NODES if self.swarm.is_primary(s))
            self.samples += 1
            if len(writable) > 1:
                self.two_writable.append(writable)

    def stop(self):
        self.halt.set()
        self.join(60)


def connect(swarm):
    ports = swarm.router_ports()
    return db.connect(",".join("127.0.0.1" for _ in ports), ",".join(map(str, ports)), "postgres", "app",
                      swarm.password(), timeout=5)


def converged(swarm):
    """The primary's name once the cluster is whole again: one primary, every other node streaming, both
    routers sending writes to it and counting every node up; else None. (A fault that comes while a router
    has not attached a standby that rejoined yet, and that standby is the one promoted, costs pgpool's search
    for a primary once more: doc/FLOWS.md, Router.)"""
    primaries = [s for s in NODES if swarm.is_primary(s)]
    if len(primaries) != 1:
        return None
    primary = primaries[0]
    streaming = "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"
    try:
        direct = set(swarm.psql(primary, streaming).split())
        cascade = set(swarm.psql("pgslave1", streaming).split())
    except AssertionError:
        return None
    if not {NODE_NAMES[s] for s in FIRST_LEVEL if s != primary} <= direct or "node3" not in cascade:
        return None
    for router in ("pgpool", "pgpool2"):
        host, _ = swarm.where(router)
        if host is None:
            return None
        private = 5430 if router == "pgpool" else 5431
        try:
            conn = db.connect("127.0.0.1", swarm.port(host, private), "postgres", "app", swarm.password(), timeout=3)
            try:
                landed = db.scalar(conn, "SELECT split_part(current_setting('cluster_name'), '/', 2) "
                                         "FROM (SELECT pg_current_wal_lsn()) AS writable")
                statuses = [row[3] for row in db.rows(conn, "SHOW pool_nodes")]
            finally:
                conn.close()
        except Exception:
            return None
        attached = len(statuses) == len(NODES) and all(s in ("up", "waiting") for s in statuses)  # waiting: unused yet
        if landed != NODE_NAMES[primary] or not attached:
            return None
    return primary


def primary_host(swarm):
    primary = next(s for s in FIRST_LEVEL if swarm.is_primary(s))
    return primary, swarm.where(primary)[0]


def fault(swarm, provoke, heal):
    """Write through both routers, provoke(host of the primary), wait for writes on another node, heal(host), wait
    for the cluster to be whole. Returns the outcome (a dict); raises AssertionError when a deadline passes."""
    old, host = primary_host(swarm)
    writer = Writer(swarm.router_ports, swarm.password(), routers=True, timeout=3)
    sampler = Sampler(swarm)
    writer.start()
    sampler.start()
    try:
        wait_for(lambda: writer.acked, 30, "a first acknowledged write")
        began = time.monotonic()
        provoke(host)
        try:
            wait_for(lambda: writer.first_ack_after(began, not_on=NODE_NAMES[old], sent_after=True), RESUME_WITHIN,
                     f"a write acknowledged by another node after the fault on {host}")
            resumed = writer.first_ack_after(began, not_on=NODE_NAMES[old], sent_after=True) - began
        finally:
            heal(host)  # whatever happened: the next scenario needs every host
        new = wait_for(lambda: converged(swarm), REJOIN_WITHIN, f"the cluster to converge after {host} healed")
    finally:
        writer.stop()
        sampler.stop()
    rows = {int(n) for n in swarm.psql(new, "SELECT n FROM writes").split()}
    return {"resumed_s": round(resumed, 2), "old": old, "new": new, "host": host, "acked": len(writer.acked),
            "lost": len(writer.numbers() - rows), "samples": sampler.samples, "two_writable": sampler.two_writable,
            "old_rejoined": swarm.psql(old, "SELECT pg_is_in_recovery()") == "t"}


# The faults of a host, and how each is healed.
FAULTS = {"kill": (lambda s, h: s.kill(h), lambda s, h: s.start(h)),
          "pause": (lambda s, h: s.pause(h), lambda s, h: s.unpause(h)),
          "partition": (lambda s, h: s.disconnect(h), lambda s, h: s.reconnect(h))}


def inflict(swarm, kind):
    provoke, heal = FAULTS[kind]
    return fault(swarm, lambda host: provoke(swarm, host), lambda host: heal(swarm, host))


def deploy(swarm, mode="strict"):
    """The swarm's hosts up, the stack deployed and converged (pgmaster primary), and a `writes` table."""
    swarm.up()
    swarm.deploy(mode=mode)
    wait_for(lambda: converged(swarm) == "pgmaster", 600, "the stack to come up with pgmaster as primary")
    conn = connect(swarm)
    try:
        db.execute(conn, "CREATE TABLE writes (n bigint PRIMARY KEY, at timestamptz DEFAULT now())")
    finally:
        conn.close()


def save_logs(swarm):
    (swarm.workdir / "stack.log").write_text(swarm.logs())
