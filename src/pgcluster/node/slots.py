"""Logical slots that survive a failover (PostgreSQL 17): the standby side.

A first-level standby runs PostgreSQL's slot sync worker (sync_replication_slots = on in
postgresql.conf), which copies every logical slot created with failover = true from the primary,
so the slot exists on whichever standby is promoted. The worker needs a database name in
primary_conninfo, and repmgr 5.5 leaves it out of what it writes (at a clone, and at every follow,
repmgrd's included): this duty puts it back, and PostgreSQL reconnects the WAL receiver on reload.
A cascaded standby cannot sync slots (its upstream is a standby) and has the worker off.
"""
import logging

from .. import db

logger = logging.getLogger(__name__)


def syncs_slots(cfg):
    """Whether this node keeps failover slots in sync: a first-level node with replication slots."""
    return cfg.use_slots and cfg.host in cfg.partners


class SlotSync:
    def __init__(self, node):
        self.node = node

    def reset(self):
        pass

    def tick(self, live):
        cfg = self.node.cfg
        if not live or live.role != "standby" or not syncs_slots(cfg):
            return
        conn = self.node.kept()
        conninfo = db.scalar(conn, "SELECT current_setting('primary_conninfo')")
        if not conninfo or " dbname=" in f" {conninfo}":
            return
        db.execute(conn, "ALTER SYSTEM SET primary_conninfo = %s", (f"{conninfo} dbname={cfg.replication_db}",))
        db.execute(conn, "SELECT pg_reload_conf()")
        logger.info("Added dbname=%s to primary_conninfo, which repmgr leaves out: the slot sync worker needs it "
                    "to keep failover slots on this standby.", cfg.replication_db)
