"""What this node and its partners know: the inputs of the role decision, and the live server's facts."""
import logging
import re
from dataclasses import dataclass

import psycopg2

from .. import db
from ..cluster.lsn import parse_lsn
from . import datadir
from .role import Facts, Local
from .server import local_connect

logger = logging.getLogger(__name__)

_HOST = re.compile(r"(?:^|\s)host=(\S+)")


def host_of(conninfo):
    match = _HOST.search(conninfo or "")
    return match.group(1).strip("'") if match else ""


@dataclass(frozen=True)
class Live:
    """The running local server's facts."""
    role: str             # primary or standby
    lsn: int
    timeline: int
    primary: str          # a primary: itself; a standby: the primary its repmgr metadata names
    upstream: str = ""    # a standby: the node it streams from (or is told to)
    streaming: bool = False
    upstream_last_seen: float = -1.0  # a standby: seconds since repmgrd last reached the upstream
    members: tuple = ()   # every node registered in the (replicated) repmgr metadata, by host
    replay_delay: float = 0.0  # a standby: seconds since the commit it replayed last, while WAL waits replay


class LiveProbe:
    """The running local server's facts (read_live) over one kept connection, made again after a restart;
    None while the server does not answer."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.conn = None

    def read(self):
        for _ in range(2):  # a connection the last restart broke fails once, then is replaced
            if self.conn is None or self.conn.closed:
                try:
                    self.conn = local_connect(self.cfg.postgres_user, self.cfg.replication_db, timeout=1)
                except psycopg2.Error:
                    return None
            try:
                return read_live(self.conn, self.cfg.host)
            except psycopg2.Error:
                self.conn.close()
                self.conn = None
        return None


def read_live(conn, host):
    if not db.scalar(conn, "SELECT pg_is_in_recovery()", timeout=3):
        lsn, timeline = db.rows(conn, """
            SELECT pg_current_wal_lsn()::text,
                   ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int""", timeout=3)[0]
        return Live(role="primary", lsn=parse_lsn(lsn), timeline=timeline, primary=host, members=members(conn))
    lsn, received_tli, checkpoint_tli, sender, state, conninfo, delay = db.rows(conn, """
        SELECT greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text,
               (SELECT received_tli FROM pg_stat_wal_receiver),
               (SELECT timeline_id FROM pg_control_checkpoint()),
               (SELECT sender_host FROM pg_stat_wal_receiver),
               (SELECT status FROM pg_stat_wal_receiver),
               current_setting('primary_conninfo'),
               CASE WHEN pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
                    THEN extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END
        """, timeout=3)[0]
    return Live(role="standby", lsn=parse_lsn(lsn), timeline=received_tli or checkpoint_tli or 0,
                primary=known_primary(conn), upstream=sender or host_of(conninfo), streaming=state == "streaming",
                upstream_last_seen=upstream_last_seen(conn), members=members(conn),
                replay_delay=max(0.0, float(delay or 0)))


def upstream_last_seen(conn):
    """Seconds since repmgrd last reached this standby's upstream (-1 when repmgrd does not know)."""
    try:
        value = db.scalar(conn, "SELECT repmgr.get_upstream_last_seen()")
    except psycopg2.Error:
        return -1.0
    return -1.0 if value is None else float(value)


def known_primary(conn):
    """The host of the active primary in the (replicated) repmgr metadata, or ''."""
    try:
        conninfo = db.scalar(conn, "SELECT conninfo FROM repmgr.nodes WHERE type = 'primary' AND active "
                                   "ORDER BY node_id LIMIT 1")
    except psycopg2.Error:
        return ""
    return host_of(conninfo)


def members(conn):
    """The hosts of every node in the repmgr metadata, in node id order; () before it exists."""
    try:
        return tuple(host_of(c) for (c,) in db.rows(conn, "SELECT conninfo FROM repmgr.nodes ORDER BY node_id"))
    except psycopg2.Error:
        return ()


def peer_hosts(cfg):
    """Partners and the configured upstream, this node excluded."""
    hosts = [h for h in cfg.partners if h != cfg.host]
    if cfg.upstream_host and cfg.upstream_host != cfg.host and cfg.upstream_host not in hosts:
        hosts.append(cfg.upstream_host)
    return hosts


def gather(cfg, client):
    """Facts for decide_role: the data directory and every partner's answer."""
    data = datadir.facts(cfg.pgdata)
    local = Local(has_data=data.has_data, was_primary=data.was_primary, timeline=data.timeline, lsn=data.lsn,
                  restored=datadir.is_restored(cfg.pgdata))
    answers = client.ask_all(peer_hosts(cfg))
    return Facts(host=cfg.host, local=local, initial_primary=cfg.initial_primary, upstream=cfg.upstream_host,
                 voters=cfg.voters, peers=tuple(answers.values()), clean_over_rewind=cfg.clean_over_rewind)
