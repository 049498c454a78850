"""The cluster's primary as the backup container sees it: reached by libpq multi-host, read-write."""
from dataclasses import dataclass

import psycopg2

from .. import db


@dataclass(frozen=True)
class PrimaryState:
    timeline: int      # the timeline it writes on
    lsn: str           # its current WAL position
    synchronous: bool  # whether its commits wait for Barman's WAL receiver


def connect(cfg, application_name):
    """A connection to whichever node of cfg.hosts is writable; psycopg2.Error when none answers."""
    return db.connect(",".join(cfg.hosts), ",".join(str(cfg.port) for _ in cfg.hosts), cfg.postgres_user,
                      cfg.postgres_db, cfg.postgres_password, timeout=3, target_session_attrs="read-write",
                      application_name=application_name)


def state(cfg):
    """The primary's PrimaryState now, or None when no primary answers."""
    try:
        conn = connect(cfg, "barman-scheduler")
    except psycopg2.Error:
        return None
    try:
        timeline, lsn, names = db.rows(conn, """
            SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int,
                   pg_current_wal_lsn()::text, current_setting('synchronous_standby_names')""", timeout=5)[0]
        return PrimaryState(timeline, lsn, "barman_receive_wal" in names)
    except psycopg2.Error:
        return None
    finally:
        conn.close()
