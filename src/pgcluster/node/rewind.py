"""pg_rewind: a former primary's data directory made a standby of the new primary again."""
import logging
import time

from .. import db, proc, render
from . import datadir, paths
from .files import primary_conninfo
from .server import child_env, single_user_recovery

logger = logging.getLogger(__name__)


def rewind(cfg, source):
    """Rewind onto source and leave the directory ready to start as its standby.

    Raises CommandError, FatalError or psycopg2.Error when that cannot be done (the caller clones instead).
    """
    if datadir.facts(cfg.pgdata).state not in ("shut down", "shut down in recovery"):
        logger.info("Running crash recovery first, so pg_rewind finds a cleanly stopped data directory.")
        single_user_recovery(cfg.pgdata)
    # Without a checkpoint on the source, the rewind can fail with "requested timeline N does not
    # contain minimum recovery point".
    conn = db.connect(source, cfg.upstream_port, cfg.replication_user, cfg.replication_db, cfg.replication_password,
                      timeout=cfg.connect_timeout)
    try:
        db.execute(conn, "CHECKPOINT", timeout=300)
    finally:
        conn.close()
    started = time.monotonic()
    conninfo = render.conninfo(host=source, port=cfg.upstream_port, user=cfg.replication_user,
                               dbname=cfg.replication_db, connect_timeout=cfg.connect_timeout)
    proc.run([f"{paths.BINDIR}/pg_rewind", f"--target-pgdata={cfg.pgdata}", f"--source-server={conninfo}"],
             timeout=3600, env=child_env(cfg.pgdata), secrets=(cfg.replication_password,))
    logger.info("pg_rewind from %s finished in %.1f s.", source, time.monotonic() - started)
    # It streams from source at once: WAL written there during the rewind is needed for consistency.
    datadir.become_standby(cfg.pgdata, primary_conninfo(cfg, source))
