"""Logical replication that survives a failover (PostgreSQL 17 failover slots; issue: current platform).

A consumer reads the `writes` table's changes through a logical slot created with failover = true,
confirming what it has processed. The primary is killed under a writer; the consumer reconnects to
the new primary, where the slot exists (kept in sync on the first-level standbys), and goes on.
Every change the final primary holds reaches the consumer, and the consumer never saw a change the
cluster lost.
"""
import re
import threading
import time

import psycopg2
import psycopg2.extras

from .cluster import NODE_NAMES, SERVICES, wait_for
from .conftest import cluster_fixture, writer_for

SLOT = "app_changes"
FIRST_LEVEL_STANDBYS = ("pgslave1", "pgslave3")
INSERTED = re.compile(r"^table public\.writes: INSERT: n\[bigint\]:(-?\d+)")

cluster = cluster_fixture("logical")


class Consumer(threading.Thread):
    """Streams the slot from whichever node accepts writes; reconnects after any error."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.received = set()
        self.sessions = []  # the service each streaming session ran on
        self.halt = threading.Event()

    def writable_port(self):
        for service in self.cluster.running():
            if self.cluster.is_primary(service):
                return service, self.cluster.port(service)
        return None, None

    def run(self):
        while not self.halt.is_set():
            service, port = self.writable_port()
            if port is None:
                self.halt.wait(0.5)
                continue
            try:
                self.stream(service, port)
            except psycopg2.Error:
                self.halt.wait(0.5)

    def stream(self, service, port):
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="app",
                                password=self.cluster.password, connect_timeout=3, keepalives=1,
                                keepalives_idle=1, keepalives_interval=1, keepalives_count=2, tcp_user_timeout=3000,
                                connection_factory=psycopg2.extras.LogicalReplicationConnection)
        try:
            cur = conn.cursor()
            cur.start_replication(slot_name=SLOT, decode=True, status_interval=1)
            self.sessions.append(service)
            while not self.halt.is_set():
                message = cur.read_message()
                if message is None:
                    time.sleep(0.05)
                    continue
                found = INSERTED.match(message.payload)
                if found:
                    self.received.add(int(found.group(1)))
                cur.send_feedback(flush_lsn=message.data_start)
        finally:
            conn.close()

    def stop(self):
        self.halt.set()
        self.join(15)


def slot_on(cluster, service):
    rows = cluster.query(service, "SELECT failover, synced, temporary FROM pg_replication_slots "
                                  "WHERE slot_name = %s", (SLOT,))
    return rows[0] if rows else None


def consumed(cluster):
    """A write, and the slot advanced past it, as a consumer confirming its position does."""
    cluster.query("pgmaster", "INSERT INTO writes (n) VALUES (-floor(random() * 1e9)::bigint)")
    cluster.query("pgmaster", "SELECT pg_replication_slot_advance(%s, pg_current_wal_lsn())", (SLOT,))


def test_a_failover_slot_is_kept_on_every_first_level_standby(cluster):
    cluster.query("pgmaster", "SELECT pg_create_logical_replication_slot(%s, 'test_decoding', false, false, true)",
                  (SLOT,))
    # PostgreSQL 17 makes a new slot's copy on a standby usable once the slot has moved past what the
    # standby holds: a consumer confirming a position after the slot's creation.
    for standby in FIRST_LEVEL_STANDBYS:
        wait_for(lambda: consumed(cluster) or slot_on(cluster, standby) == (True, True, False), 90,
                 f"the slot synced on {standby} and ready to take over")
    assert slot_on(cluster, "pgslave2") is None  # a cascaded standby cannot sync slots


def test_a_logical_consumer_continues_on_the_new_primary_after_a_kill(cluster):
    consumer = Consumer(cluster)
    consumer.start()
    writer = writer_for(cluster)
    wait_for(lambda: len(consumer.received) > 20, 60, "the consumer to receive the writer's rows")
    killed_at = time.monotonic()
    cluster.kill("pgmaster")
    wait_for(lambda: writer.first_ack_after(killed_at, not_on="node1"), 60, "writes on a new primary")
    wait_for(lambda: sum(1 for _, t, _ in writer.acked if t > killed_at) > 40, 60, "writes after the failover")
    writer.stop()
    new_primary = cluster.wait_tree(services=tuple(s for s in SERVICES if s != "pgmaster"))
    # The writer's rows (the ones the first test wrote to move the slot along are negative, and were skipped).
    final = {n for (n,) in cluster.query(new_primary, "SELECT n FROM writes WHERE n > 0")}
    wait_for(lambda: final <= consumer.received, 60, "every committed row to reach the consumer")
    consumer.stop()
    assert consumer.sessions[0] == "pgmaster" and consumer.sessions[-1] == new_primary
    seen = {n for n in consumer.received if n > 0}
    assert seen <= final, f"the consumer saw rows the cluster lost: {sorted(seen - final)}"
    late = {n for n, t, node in writer.acked if t > killed_at and node == NODE_NAMES[new_primary]}
    assert late and late <= consumer.received
