"""A client that keeps writing through a failover and remembers what was acknowledged."""
import threading
import time

import psycopg2

from pgcluster import db


class Writer(threading.Thread):
    """Inserts increasing numbers (bigint) into `writes` every interval through libpq multi-host with
    target_session_attrs=read-write, so it always finds the writable node by itself.

    acked holds (number, monotonic time of the acknowledgement, node that acknowledged it) for every
    committed insert; the node is its NODE_NAME, read from cluster_name.
    """

    def __init__(self, ports, password, interval=0.05, timeout=2, routers=False, start=None):
        """ports: the nodes' published ports (libpq picks the writable one), or the routers' (routers=True:
        libpq takes the first that answers, since each router sends writes to the primary; pgpool would send
        libpq's read-write probe to a standby); or a callable returning them, asked again before each
        reconnect (a restarted container publishes a new port). start: the first number (writers that run
        side by side need ranges of their own)."""
        super().__init__(daemon=True)
        self.routers = routers
        self.ports = ports if callable(ports) else (lambda: ports)
        self.password = password
        self.timeout = timeout
        self.interval = interval
        self.acked = []
        self.sent = {}  # number -> monotonic time its insert was sent
        self.errors = 0
        self._halt = threading.Event()
        self._next = int(time.time() * 1000) if start is None else start  # distinct from earlier writers' numbers

    def dsn(self):
        ports = self.ports()
        dsn = dict(host=",".join("127.0.0.1" for _ in ports), port=",".join(str(p) for p in ports), dbname="app",
                   user="postgres", password=self.password, timeout=self.timeout, application_name="writer")
        if len(ports) > 1 and not self.routers:
            dsn["target_session_attrs"] = "read-write"
        return dsn

    def run(self):
        conn = None
        while not self._halt.is_set():
            try:
                if conn is None:
                    conn = db.connect(**self.dsn())
                self.sent[self._next] = time.monotonic()
                node = db.scalar(conn, "INSERT INTO writes (n) VALUES (%s) "
                                       "RETURNING split_part(current_setting('cluster_name'), '/', 2)",
                                 (self._next,), timeout=self.timeout)
                self.acked.append((self._next, time.monotonic(), node))
            except (psycopg2.Error, AssertionError):  # AssertionError: a port lookup of a stopped container
                self.errors += 1
                if conn is not None:
                    conn.close()
                    conn = None
            self._next += 1  # a failed number is never retried: it may or may not have committed
            self._halt.wait(self.interval)
        if conn is not None:
            conn.close()

    def stop(self):
        self._halt.set()
        self.join(30)

    def first_ack_after(self, moment, not_on=None, sent_after=False):
        """Time of the first acknowledgement after moment by a node other than not_on (a NODE_NAME); with
        sent_after, only of a write sent after moment (an answer already on its way does not count)."""
        return next((t for n, t, node in self.acked
                     if t > moment and node != not_on and (not sent_after or self.sent.get(n, 0) > moment)), None)

    def numbers(self):
        return {n for n, _, _ in self.acked}
