"""Barman's WAL stream moved onto the primary's new timeline without a gap.

`barman receive-wal --reset` restarts pg_receivewal at the primary's current position. After a
timeline switch Barman then lacks the start of the new timeline (the rest of the segment it
branched off in), and no restore can cross the switch. pg_receivewal starts at the beginning of the
newest partial segment in its directory, so after the reset a placeholder for the segment where the
timeline began (named for the new timeline) makes it stream the new timeline from its start; the
primary keeps that WAL (wal_keep_size).
"""
import logging
import os
import time

import psycopg2

from .. import db
from ..cluster.lsn import format_lsn
from . import primary
from .targets import parse_history, walfile

logger = logging.getLogger(__name__)

SEGMENT = 16 * 1024 * 1024


def timeline_start(cfg):
    """(timeline, the WAL file it began in) of the primary now, or None on timeline 1 or without a primary."""
    try:
        conn = primary.connect(cfg, "barman-stream")
    except psycopg2.Error:
        return None
    try:
        timeline = db.scalar(conn, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
        if timeline <= 1:
            return None
        history = db.scalar(conn, "SELECT pg_read_file('pg_wal/' || lpad(upper(to_hex(%s)), 8, '0') || '.history')",
                            (timeline,))
    except psycopg2.Error:
        return None
    finally:
        conn.close()
    switched = parse_history(history).get(timeline - 1)
    if switched is None:
        return None
    # The segment that holds the switch point, named for the new timeline (walfile names the byte before an LSN).
    return timeline, walfile(timeline, format_lsn(switched + 1))


def restart(cfg, barman, timeout=30):
    """Stop receive-wal and wait until it is gone (a running one cannot be reset), reset it, point it at the start
    of the primary's timeline, and let cron start it again."""
    server = cfg.server
    barman.run("receive-wal", "--stop", server, check=False)
    deadline = time.monotonic() + timeout
    while barman.receiver(server) and time.monotonic() < deadline:
        time.sleep(0.5)
    barman.run("receive-wal", "--reset", server, check=False)
    start = timeline_start(cfg)
    if start:
        timeline, segment = start
        placeholder = os.path.join(cfg.backup_dir, server, "streaming", f"{segment}.partial")
        with open(placeholder, "wb") as handle:
            handle.truncate(SEGMENT)
        logger.info("WAL streaming restarts at the start of timeline %s (file %s), so the archive has no gap at "
                    "the switch.", timeline, segment)
    barman.run("cron", timeout=300)
