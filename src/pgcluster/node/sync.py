"""What a primary's commits and logical consumers wait for, kept up to date in runtime.conf on every node.

synchronous_standby_names, by consistency mode:
  eventual            asynchronous: ''.
  strict              'ANY 1 (every other node)': a commit waits for one standby, always.
  partially_strict    as strict while a standby is connected; '' after none has answered for
                      DEGRADE_AFTER seconds, back as soon as one streams again.
  SYNCHRONOUS_BACKUP  '"barman_receive_wal"': a commit waits for Barman's WAL receiver.

synchronized_standby_slots, while a logical slot with failover = true exists on the primary: the
replication slots of the first-level standbys that stream now, so that a logical consumer never
receives a change those standbys (the ones a failover promotes) do not have. A standby that stops
streaming leaves the list within a second rather than stall every consumer until it returns.

Standbys carry synchronous_standby_names too (it has no effect in recovery), so a promoted node is
strict from its first commit.
"""
import logging
import time

from .. import db
from . import files
from .facts import host_of

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


def slot_name(node_id):
    """The physical slot repmgr creates for a standby (use_replication_slots)."""
    return f"repmgr_slot_{node_id}"


class SyncReplication:
    """Duty of every node: runtime.conf as the consistency mode and the failover slots want it."""

    def __init__(self, node):
        self.node = node
        self.current = {}
        self.last_connected = time.monotonic()

    def reset(self):
        self.current = None  # the next tick writes runtime.conf again, whatever it held
        self.last_connected = time.monotonic()

    def tick(self, live):
        if not live:
            return
        conn = self.node.kept()
        wanted = self.wanted(conn, live)
        if wanted == self.current:
            return
        files.set_runtime(wanted)
        db.execute(conn, "SELECT pg_reload_conf()")
        if live.role == "primary":
            self.announce(wanted)
        self.current = wanted

    def wanted(self, conn, live):
        cfg = self.node.cfg
        others = db.rows(conn, "SELECT node_id, node_name, conninfo FROM repmgr.nodes WHERE node_id <> %s "
                               "AND type <> 'witness'", (cfg.node_id,))
        wanted = {}
        if cfg.consistency != "eventual" or cfg.synchronous_backup:
            standbys = [name for _, name, _ in others]
            streaming = db.scalar(conn, """
                SELECT count(*) FROM pg_stat_replication
                WHERE application_name = ANY(%s) AND state = 'streaming'
                  AND reply_time > now() - make_interval(secs => %s)""", (standbys, DEGRADE_AFTER))
            now = time.monotonic()
            if streaming or live.role != "primary":
                self.last_connected = now
            connected = now - self.last_connected < DEGRADE_AFTER
            names = synchronous_names(cfg.consistency, standbys, connected, cfg.synchronous_backup)
            if names:
                wanted["synchronous_standby_names"] = names
        if cfg.use_slots and live.role == "primary":
            partners = [slot_name(node_id) for node_id, _, conninfo in others if host_of(conninfo) in cfg.partners]
            slots = [r[0] for r in db.rows(conn, """
                SELECT slot_name FROM pg_replication_slots
                WHERE slot_type = 'physical' AND active AND slot_name = ANY(%s)
                  AND EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_type = 'logical' AND failover)
                ORDER BY slot_name""", (partners,))]
            if slots:
                wanted["synchronized_standby_slots"] = ",".join(slots)
        return wanted

    def announce(self, wanted):
        cfg, before = self.node.cfg, self.current or {}
        names = wanted.get("synchronous_standby_names", "")
        if names != before.get("synchronous_standby_names", ""):
            if cfg.synchronous_backup:
                logger.info("Commits now wait for Barman's WAL receiver (SYNCHRONOUS_BACKUP): "
                            "synchronous_standby_names = %s.", names)
            elif names:
                logger.info("Commits now wait for one standby (%s): synchronous_standby_names = %s.",
                            cfg.consistency, names)
            elif cfg.consistency == "partially_strict":
                logger.warning("No standby has answered for %.0f s; commits no longer wait for one "
                               "(partially_strict).", DEGRADE_AFTER)
        slots = wanted.get("synchronized_standby_slots", "")
        if slots != before.get("synchronized_standby_slots", ""):
            logger.info("Logical consumers of failover slots now wait for the standbys of slots %s "
                        "(synchronized_standby_slots), the first-level standbys that stream.", slots or "(none)")
