"""A client that keeps writing through a failover and remembers what was acknowledged."""
import threading
import time

import psycopg2

from pgcluster import db


class Writer(threading.Thread):
    """Inserts increasing numbers into `writes` every interval through libpq multi-host with
    target_session_attrs=read-write, so it always finds the writable node by itself.

    acked holds (number, monotonic time of the acknowledgement) for every committed insert.
    """

    def __init__(self, ports, password, interval=0.05, timeout=2):
        super().__init__(daemon=True)
        self.dsn = dict(host=",".join("127.0.0.1" for _ in ports), port=",".join(str(p) for p in ports),
                        dbname="app", user="postgres", password=password, target_session_attrs="read-write",
                        timeout=timeout, application_name="writer")
        self.timeout = timeout
        self.interval = interval
        self.acked = []
        self.errors = 0
        self._halt = threading.Event()
        self._next = 1

    def run(self):
        conn = None
        while not self._halt.is_set():
            try:
                if conn is None:
                    conn = db.connect(**self.dsn)
                db.execute(conn, "INSERT INTO writes (n) VALUES (%s)", (self._next,), timeout=self.timeout)
                self.acked.append((self._next, time.monotonic()))
            except psycopg2.Error:
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

    def first_ack_after(self, moment):
        return next((t for _, t in self.acked if t > moment), None)

    def numbers(self):
        return {n for n, _ in self.acked}
