"""Consistency modes: what synchronous_standby_names says, kept up to date on every node.

eventual          asynchronous: ''.
strict            'ANY 1 (every other node)': a commit waits for one standby, always.
partially_strict  as strict while a standby is connected; '' after none has answered for
                  DEGRADE_AFTER seconds, back as soon as one streams again.
SYNCHRONOUS_BACKUP '"barman_receive_wal"': a commit waits for Barman's WAL receiver.

Standbys carry the setting too (it has no effect in recovery), so a promoted
node is strict from its first commit.
"""
import logging
import time

from .. import db
from . import files

logger = logging.getLogger(__name__)

DEGRADE_AFTER = 3.0


BARMAN_RECEIVER = "barman_receive_wal"


def synchronous_names(mode, standbys, connected, backup=False):
    """The synchronous_standby_names value for a mode, the other nodes' names, and whether one streams."""
    if backup:
        return f'"{BARMAN_RECEIVER}"'
    if mode == "eventual" or not standbys:
        return ""
    if mode == "partially_strict" and not connected:
        return ""
    return "ANY 1 (" + ", ".join(f'"{name}"' for name in sorted(standbys)) + ")"


class SyncReplication:
    """Duty of every node: keep synchronous_standby_names as the consistency mode wants it."""

    def __init__(self, node):
        self.node = node
        self.current = ""
        self.last_connected = time.monotonic()

    def reset(self):
        self.current = ""  # the next tick writes runtime.conf again, whatever it held
        self.last_connected = time.monotonic()

    def tick(self, live):
        cfg = self.node.cfg
        if (cfg.consistency == "eventual" and not cfg.synchronous_backup) or not live:
            return
        conn = self.node.local()
        try:
            standbys = [r[0] for r in db.rows(conn, "SELECT node_name FROM repmgr.nodes WHERE node_id <> %s "
                                                    "AND type <> 'witness'", (cfg.node_id,))]
            streaming = db.scalar(conn, """
                SELECT count(*) FROM pg_stat_replication
                WHERE application_name = ANY(%s) AND state = 'streaming'
                  AND reply_time > now() - make_interval(secs => %s)""", (standbys, DEGRADE_AFTER))
            now = time.monotonic()
            if streaming or live.role != "primary":
                self.last_connected = now
            connected = now - self.last_connected < DEGRADE_AFTER
            wanted = synchronous_names(cfg.consistency, standbys, connected, cfg.synchronous_backup)
            if wanted == self.current:
                return
            files.set_runtime({"synchronous_standby_names": wanted} if wanted else {})
            db.execute(conn, "SELECT pg_reload_conf()")
        finally:
            conn.close()
        if live.role == "primary":
            if cfg.synchronous_backup:
                logger.info("Commits now wait for Barman's WAL receiver (SYNCHRONOUS_BACKUP): "
                            "synchronous_standby_names = %s.", wanted)
            elif wanted:
                logger.info("Commits now wait for one standby (%s): synchronous_standby_names = %s.",
                            cfg.consistency, wanted)
            else:
                logger.warning("No standby has answered for %.0f s; commits no longer wait for one "
                               "(partially_strict).", DEGRADE_AFTER)
        self.current = wanted
