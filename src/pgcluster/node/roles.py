"""The users of the routers' checks, of Barman and of the application: each with what its job needs, no more.

A primary makes sure of them once each time it starts serving (a cluster made by an earlier release gets them
too, and a changed password takes effect): a user whose password is not set here is left alone. None is a
superuser; the predefined roles of PostgreSQL 15+ give what each needs (doc/CONFIGURATION.md lists the grants):

- CHECK_USER (pgpool's health checks, the routers' watchers and metrics): pg_monitor, read-only sessions;
- BARMAN_USER (WAL streaming, base backups, `barman check`): REPLICATION, pg_read_all_settings,
  pg_read_all_stats, pg_checkpoint, and the backup functions in the database Barman connects to;
- APP_USER: owns POSTGRES_DB (and so may create in its public schema), nothing else.
"""
import logging

from psycopg2 import sql

from .. import db, scram
from .server import local_connect

logger = logging.getLogger(__name__)

CHECK_GRANTS = ("GRANT pg_monitor TO {user}", "ALTER ROLE {user} SET default_transaction_read_only = on")
BARMAN_GRANTS = ("GRANT pg_read_all_settings, pg_read_all_stats, pg_checkpoint TO {user}",)
# In the database Barman connects to (function privileges live in each database's catalog). pg_read_file
# reads a timeline's history file after a failover; the REPLICATION attribute already lets this user copy
# the whole data directory.
BARMAN_FUNCTIONS = (
    "pg_catalog.pg_backup_start(text, boolean)", "pg_catalog.pg_backup_stop(boolean)",
    "pg_catalog.pg_switch_wal()", "pg_catalog.pg_create_restore_point(text)", "pg_catalog.pg_read_file(text)",
)
BARMAN_DB = "postgres"  # the backup image's POSTGRES_DB


def wanted(cfg):
    """[(user, password, attributes, grants)] of the users whose password this node has."""
    found = []
    if cfg.check_password:
        found.append((cfg.check_user, cfg.check_password, "LOGIN NOREPLICATION", CHECK_GRANTS))
    if cfg.barman_password:
        found.append((cfg.barman_user, cfg.barman_password, "LOGIN REPLICATION", BARMAN_GRANTS))
    if cfg.app_user and cfg.app_password:
        found.append((cfg.app_user, cfg.app_password, "LOGIN NOREPLICATION", ()))
    return found


def ensure(cfg):
    """Create or update every wanted user; its password as a SCRAM verifier, never in the clear."""
    users = wanted(cfg)
    if not users:
        return []
    conn = local_connect(cfg.postgres_user, BARMAN_DB, timeout=5)
    try:
        # A user is not worth a commit that waits for a standby (strict mode) at this moment.
        db.execute(conn, "SET synchronous_commit = local")
        for user, password, attributes, grants in users:
            name = sql.Identifier(user)
            exists = db.scalar(conn, "SELECT count(*) FROM pg_roles WHERE rolname = %s", (user,))
            verb = "ALTER" if exists else "CREATE"
            db.execute(conn, sql.SQL(f"{verb} ROLE {{}} WITH NOSUPERUSER NOCREATEDB NOCREATEROLE {attributes} "
                                     "PASSWORD {}").format(name, sql.Literal(scram.verifier(password))))
            for grant in grants:
                db.execute(conn, sql.SQL(grant).format(user=name))
            if user == cfg.barman_user:
                for function in BARMAN_FUNCTIONS:
                    db.execute(conn, sql.SQL(f"GRANT EXECUTE ON FUNCTION {function} TO {{}}").format(name))
            if user == cfg.app_user:
                db.execute(conn, sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(cfg.postgres_db),
                                                                               name))
    finally:
        conn.close()
    return [user for user, *_ in users]


class Roles:
    """A duty: on a running, unfenced primary, ensure() once per role start (retried each tick until it works)."""

    def __init__(self, node):
        self.node = node
        self.done = False

    def reset(self):
        self.done = False

    def tick(self, live):
        if self.done or not live or live.role != "primary" or self.node.fenced:
            return
        users = ensure(self.node.cfg)
        self.done = True
        if users:
            logger.info("Users %s are in place with the rights their jobs need.", ", ".join(users))
