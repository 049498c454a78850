"""The cluster's history: every promotion, fence, unfence, rejoin and recovery, with its node, timeline and reason.

A node notes an event where it happens (note); the event waits in a journal file on the data volume, so
that a restart keeps it, until the history duty has written it into the replicated table
pgcluster.history of REPLICATION_DB on the primary: through the local socket on the primary itself, over
the network from any other node (a fenced node's own server is read-only). Each event has an id of its
own, so a write that is repeated (a journal a clone copied, a retry after a lost answer) changes nothing.
The writes commit without waiting for a synchronous standby: history must never block on the quorum
that client writes wait for. /history on the status port reads the node's local, replicated copy
together with repmgr's events (read), on the primary and on any standby alike.
"""
import json
import logging
import os
import time
import uuid
from datetime import datetime, timezone

import psycopg2

from .. import db
from ..cluster.primary import find_primary
from . import datadir
from .role import Action
from .server import local_connect

logger = logging.getLogger(__name__)

JOURNAL = "pgcluster_history.jsonl"  # in the data directory: pending events
FLUSH_EVERY = 2.0
SCHEMA = """
    CREATE SCHEMA IF NOT EXISTS pgcluster;
    CREATE TABLE IF NOT EXISTS pgcluster.history (
        id text PRIMARY KEY, at timestamptz NOT NULL, node text NOT NULL, event text NOT NULL,
        timeline integer, reason text NOT NULL DEFAULT '', details jsonb NOT NULL DEFAULT '{}')"""
# repmgr's own records of the same kind of changes, from its replicated events table.
REPMGR_EVENTS = ("standby_promote", "repmgrd_failover_promote", "standby_switchover", "node_rejoin",
                 "repmgrd_failover_follow", "standby_follow")


def role_event(decision, was_primary, was_fenced, restored):
    """(event, reason, details) of the history for a role just taken, or None: a fence, restored data
    promoted, the fence lifted, a former primary rejoining as a standby."""
    action = decision.action
    if action is Action.FENCE:
        return "fence", decision.reason, {}
    if action is Action.START_PRIMARY and restored:
        return "recovery", "the restored data reached its recovery target and was promoted", {}
    if action is Action.START_PRIMARY and was_fenced:
        return "unfence", decision.reason, {}
    if action in (Action.START_STANDBY, Action.REWIND, Action.REJOIN, Action.CLONE) and was_primary:
        return "rejoin", decision.reason, {"upstream": decision.source}
    return None


def event(node, kind, reason, timeline=None, **details):
    """One event as a dict: id, at (ISO 8601, UTC), node, event, timeline, reason, details."""
    return {"id": uuid.uuid4().hex, "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "node": node, "event": kind, "timeline": timeline, "reason": reason, "details": details}


class History:
    """The node's journal of events not yet written, and the history duty that writes them."""

    def __init__(self, node):
        self.node = node
        self.cfg = node.cfg
        self.tried_at = 0.0

    @property
    def path(self):
        return os.path.join(self.cfg.pgdata, JOURNAL)

    def took_role(self, decision, was_primary, was_fenced, restored):
        found = role_event(decision, was_primary, was_fenced, restored)
        if found:
            kind, reason, details = found
            self.note(kind, reason, datadir.facts(self.cfg.pgdata).timeline, **details)

    def note(self, kind, reason, timeline=None, **details):
        entry = event(self.cfg.node_name, kind, reason, timeline, **details)
        try:
            with open(self.path, "a", encoding="utf-8") as journal:
                journal.write(json.dumps(entry) + "\n")
        except OSError as exc:  # the history must never stop a role change
            logger.warning("History: %s of %s could not be recorded: %s.", kind, self.cfg.node_name, exc)
            return
        logger.info("History: %s of %s recorded (%s).", kind, self.cfg.node_name, reason,
                    extra={"event": kind, "reason": reason, "timeline": timeline})

    def pending(self):
        try:
            with open(self.path, encoding="utf-8") as journal:
                return [json.loads(line) for line in journal if line.strip()]
        except (OSError, ValueError):
            return []

    # --- the duty ----------------------------------------------------------------------------
    def reset(self):
        self.tried_at = 0.0

    def tick(self, live):
        entries = self.pending()
        if not entries or time.monotonic() - self.tried_at < FLUSH_EVERY:
            return
        self.tried_at = time.monotonic()
        conn = self.connect_primary(live)
        if conn is None:
            return
        try:
            write(conn, entries)
        finally:
            conn.close()
        os.remove(self.path)  # notes and writes both happen in the supervisor's thread: nothing came meanwhile

    def connect_primary(self, live):
        cfg = self.cfg
        if live and live.role == "primary" and not self.node.fenced:
            return local_connect(cfg.postgres_user, cfg.replication_db)
        primary = find_primary(self.node.watch.latest[1].values())
        host = primary.host if primary else (live.primary if live else "")
        if not host or host == cfg.host:
            return None
        try:
            return db.connect(host, 5432, cfg.postgres_user, cfg.replication_db, timeout=2)
        except psycopg2.Error:
            return None


def write(conn, entries):
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("SET LOCAL synchronous_commit = local")
        cur.execute(SCHEMA)
        for e in entries:
            cur.execute("INSERT INTO pgcluster.history (id, at, node, event, timeline, reason, details) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                        (e["id"], e["at"], e["node"], e["event"], e["timeline"], e["reason"],
                         json.dumps(e.get("details") or {})))
        cur.execute("COMMIT")


def read(conn):
    """Every event, oldest first: the cluster's own and repmgr's."""
    rows = []
    if db.scalar(conn, "SELECT to_regclass('pgcluster.history') IS NOT NULL"):
        rows += db.rows(conn, """
            SELECT at, node, event, timeline, reason, 'pgcluster' FROM pgcluster.history""")
    if db.scalar(conn, "SELECT to_regclass('repmgr.events') IS NOT NULL"):
        rows += db.rows(conn, """
            SELECT e.event_timestamp, coalesce(n.node_name, e.node_id::text), e.event, NULL::int,
                   coalesce(e.details, ''), 'repmgr'
              FROM repmgr.events e LEFT JOIN repmgr.nodes n USING (node_id)
             WHERE e.event = ANY(%s) AND e.successful""", (list(REPMGR_EVENTS),))
    return [{"at": at.astimezone(timezone.utc).isoformat(timespec="milliseconds"), "node": node, "event": kind,
             "timeline": timeline, "reason": reason, "source": source}
            for at, node, kind, timeline, reason, source in sorted(rows, key=lambda r: r[0])]
