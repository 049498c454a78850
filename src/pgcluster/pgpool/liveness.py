"""Does pgpool still answer its clients? A login through its local socket once a round.

pgpool-II can stop answering altogether while its processes live on (its main process stuck after a reload
that met a failback, pgpool/pgpool2#88; or frozen). Its control port and health checks may still look
fine, and Docker restarts nothing, so the router restarts pgpool once no login has been answered for
HUNG_AFTER seconds. A login that pgpool refuses (a backend down) is an answer, and so is the silence of a
pgpool whose control port says it has no primary (logins wait for one; the watcher tells it the primary):
only silence for the whole PROBE_TIMEOUT that nothing explains counts.
"""
import threading
import time

import psycopg2

from .. import db
from ..errors import PgclusterError
from . import paths, pcp
from .health import write_node

HUNG_AFTER = 20.0  # longer than pgpool's own search for a primary (SEARCH_PRIMARY_TIMEOUT)
PROBE_TIMEOUT = 3.0


def probe(cfg, timeout=PROBE_TIMEOUT, clock=time.monotonic):
    """True when pgpool answered a login and SELECT 1 (or refused them) within timeout."""
    started = clock()
    try:
        conn = db.connect(paths.RUN_DIR, paths.PGPOOL_PORT, cfg.check_user, "postgres", timeout=timeout,
                          application_name="pgcluster-liveness")
        try:
            db.rows(conn, "SELECT 1", timeout=timeout)
        finally:
            conn.close()
    except psycopg2.Error:
        return clock() - started < timeout - 0.5  # refused at once: pgpool answered
    return True


def unexplained(cfg, pcp=pcp):
    """True unless pgpool's control port answers and says it has no primary attached."""
    try:
        return write_node(pcp.nodes(cfg))[0]
    except PgclusterError:
        return True


class Liveness:
    """Seconds since pgpool last answered a login, probed in a thread of its own (start): a login that waits
    for its whole PROBE_TIMEOUT (pgpool's children also wait on a frozen backend) must not hold up the
    watcher, whose round detaches that backend. probe and clock are fakes in unit tests, which call check."""

    def __init__(self, cfg, probe=probe, clock=time.monotonic, every=2.0):
        self.cfg, self.probe, self.clock, self.every = cfg, probe, clock, every
        self.answered_at = clock()

    def start(self, stopping):
        threading.Thread(target=self.run, args=(stopping,), name="pgpool-liveness", daemon=True).start()

    def run(self, stopping):
        while not stopping.wait(self.every):
            self.check()

    def check(self):
        if self.probe(self.cfg):
            self.answered_at = self.clock()

    def reset(self):
        self.answered_at = self.clock()

    def silent_for(self):
        return self.clock() - self.answered_at
