"""What this node and its partners know: the inputs of the role decision."""
import logging
import re
from concurrent.futures import ThreadPoolExecutor, wait

import psycopg2

from .. import db
from . import postgres, restore, status
from .role import Facts, Local, Peer

logger = logging.getLogger(__name__)

_HOST = re.compile(r"(?:^|\s)host=(\S+)")


def host_of(conninfo):
    match = _HOST.search(conninfo or "")
    return match.group(1).strip("'") if match else ""


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
                    self.conn = postgres.local_connect(self.cfg.postgres_user, self.cfg.replication_db, timeout=1)
                except psycopg2.Error:
                    return None
            try:
                return read_live(self.conn, self.cfg)
            except psycopg2.Error:
                self.conn.close()
                self.conn = None
        return None


def read_live(conn, cfg):
    if not db.scalar(conn, "SELECT pg_is_in_recovery()", timeout=3):
        lsn, timeline = db.rows(conn, """
            SELECT pg_current_wal_lsn()::text,
                   ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int""", timeout=3)[0]
        return {"role": "primary", "lsn": postgres.parse_lsn(lsn), "timeline": timeline,
                "primary": cfg.host, "upstream": "", "streaming": False}
    lsn, received_tli, checkpoint_tli, sender, state, conninfo = db.rows(conn, """
        SELECT greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text,
               (SELECT received_tli FROM pg_stat_wal_receiver),
               (SELECT timeline_id FROM pg_control_checkpoint()),
               (SELECT sender_host FROM pg_stat_wal_receiver),
               (SELECT status FROM pg_stat_wal_receiver),
               current_setting('primary_conninfo')""", timeout=3)[0]
    return {"role": "standby", "lsn": postgres.parse_lsn(lsn),
            "timeline": received_tli or checkpoint_tli or 0,
            "primary": known_primary(conn), "upstream": sender or host_of(conninfo),
            "streaming": state == "streaming", "upstream_last_seen": upstream_last_seen(conn)}


def upstream_last_seen(conn):
    """Seconds since repmgrd last reached this standby's upstream (-1 when repmgrd does not know)."""
    try:
        return db.scalar(conn, "SELECT repmgr.get_upstream_last_seen()")
    except psycopg2.Error:
        return -1


def known_primary(conn):
    """The host of the active primary in the (replicated) repmgr metadata, or ''."""
    try:
        conninfo = db.scalar(conn, "SELECT conninfo FROM repmgr.nodes WHERE type = 'primary' AND active "
                                   "ORDER BY node_id LIMIT 1")
    except psycopg2.Error:
        return ""
    return host_of(conninfo)


def peer_from(host, answer):
    if answer is None:
        return Peer(host=host, reachable=False)
    return Peer(host=host, reachable=True, running=bool(answer.get("running")),
                role=answer.get("role", "unknown"), primary=answer.get("primary", ""),
                fenced=bool(answer.get("fenced")), has_data=bool(answer.get("has_data")),
                was_primary=bool(answer.get("was_primary")), timeline=int(answer.get("timeline") or 0),
                lsn=int(answer.get("lsn") or 0))


def peer_hosts(cfg):
    """Partners and the configured upstream, this node excluded."""
    hosts = [h for h in cfg.partners if h != cfg.host]
    if cfg.upstream_host and cfg.upstream_host != cfg.host and cfg.upstream_host not in hosts:
        hosts.append(cfg.upstream_host)
    return hosts


# Name resolution is not bounded by socket timeouts: a node cut off from its network blocks
# in getaddrinfo for many seconds. Probes run here and are abandoned at their deadline.
_probes = ThreadPoolExecutor(max_workers=32, thread_name_prefix="probe")


def ask_all(hosts, port, timeout=1.0):
    """Ask every host's status endpoint at once: {host: answer, or None when late or silent}."""
    futures = {host: _probes.submit(status.ask, host, port, timeout) for host in hosts}
    done, _late = wait(futures.values(), timeout=timeout + 0.2)
    return {host: future.result() if future in done else None for host, future in futures.items()}


def gather(cfg):
    """Facts for decide_role: the data directory and every partner's answer."""
    data = postgres.data_facts(cfg.pgdata)
    local = Local(has_data=data["has_data"], was_primary=data["was_primary"],
                  timeline=data["timeline"], lsn=data["lsn"], restored=restore.is_restored(cfg.pgdata))
    answers = ask_all(peer_hosts(cfg), cfg.status_port)
    return Facts(host=cfg.host, local=local, initial_primary=cfg.initial_primary, upstream=cfg.upstream_host,
                 voters=cfg.voters, peers=tuple(peer_from(h, a) for h, a in answers.items()),
                 clean_over_rewind=cfg.clean_over_rewind)
