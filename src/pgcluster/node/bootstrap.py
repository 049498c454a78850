"""Creating the cluster on the initial primary, and the one-time init scripts."""
import glob
import gzip
import logging
import os
import stat

from psycopg2 import sql

from .. import db, proc, scram
from ..errors import CommandError, FatalError
from . import datadir, paths, roles
from .server import Server, child_env, initdb, local_connect

logger = logging.getLogger(__name__)

# What repmgr and pg_rewind need from the replication user, and no more. Role memberships
# are cluster-wide; function privileges live in each database's catalog, so they are
# granted in REPLICATION_DB, where repmgr and pg_rewind connect.
ROLE_GRANTS = ("GRANT pg_monitor, pg_checkpoint TO {user}",)
FUNCTION_GRANTS = (
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_promote(boolean, integer) TO {user}",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_wal_replay_resume() TO {user}",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO {user}",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO {user}",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO {user}",
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO {user}",
)
REPMGR_SCHEMA_GRANTS = (
    "GRANT USAGE ON SCHEMA repmgr TO {user}",
    "GRANT ALL ON ALL TABLES IN SCHEMA repmgr TO {user}",
    "GRANT ALL ON ALL SEQUENCES IN SCHEMA repmgr TO {user}",
    "ALTER ROLE {user} SET search_path TO repmgr, \"$user\", public",
)


def init_primary(cfg):
    """initdb, users, databases, PostGIS and init scripts, on a server only the socket reaches."""
    initdb(cfg.pgdata, cfg.postgres_user, cfg.postgres_password)
    datadir.mark(cfg.pgdata, paths.INIT_MARKER)
    server = Server(cfg.pgdata, extra=["-c", "listen_addresses="], label="postgres-init")
    server.start()
    try:
        server.wait_ready(cfg.postgres_user, timeout=120)
        _create_users_and_databases(cfg)
        roles.ensure(cfg)  # before any other container can try to log in as them
        run_init_scripts(cfg)
    finally:
        server.stop()
    datadir.mark(cfg.pgdata, paths.INIT_MARKER, present=False)
    logger.info("Initialised the cluster: database %s with PostGIS, replication user %s, repmgr metadata in %s.",
                cfg.postgres_db, cfg.replication_user, cfg.replication_db)


def _create_users_and_databases(cfg):
    repl = sql.Identifier(cfg.replication_user)
    conn = local_connect(cfg.postgres_user, "postgres", timeout=5)
    try:
        db.execute(conn, sql.SQL("CREATE ROLE {} WITH LOGIN REPLICATION PASSWORD {}").format(
            repl, sql.Literal(scram.verifier(cfg.replication_password))))
        for grant in ROLE_GRANTS:
            db.execute(conn, sql.SQL(grant).format(user=repl))
        db.execute(conn, sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(cfg.replication_db), repl),
                   timeout=300)
        if cfg.postgres_db != "postgres":
            db.execute(conn, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(cfg.postgres_db)), timeout=300)
    finally:
        conn.close()
    conn = local_connect(cfg.postgres_user, cfg.replication_db, timeout=5)
    try:
        db.execute(conn, "CREATE EXTENSION IF NOT EXISTS repmgr", timeout=300)
        for grant in FUNCTION_GRANTS + REPMGR_SCHEMA_GRANTS:
            db.execute(conn, sql.SQL(grant).format(user=repl))
    finally:
        conn.close()
    conn = local_connect(cfg.postgres_user, cfg.postgres_db, timeout=5)
    try:
        db.execute(conn, "CREATE EXTENSION IF NOT EXISTS postgis", timeout=300)
    finally:
        conn.close()


def run_init_scripts(cfg, directory=paths.INITDB_DIR):
    """Run *.sql, *.sql.gz and *.sh from directory in name order, as the official image does."""
    env = dict(child_env(cfg.pgdata), PGHOST=paths.SOCKET_DIR, PGUSER=cfg.postgres_user,
               PGDATABASE=cfg.postgres_db, POSTGRES_USER=cfg.postgres_user, POSTGRES_DB=cfg.postgres_db)
    psql = ["psql", "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q"]
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        name = os.path.basename(path)
        if name.endswith(".sql"):
            argv, feed = psql + ["-f", path], None
        elif name.endswith(".sql.gz"):
            try:
                with gzip.open(path) as handle:
                    argv, feed = psql, handle.read()
            except (OSError, EOFError) as exc:
                raise FatalError(f"Init script {name} cannot be read: {exc}") from None
        elif name.endswith(".sh"):
            executable = os.stat(path).st_mode & stat.S_IXUSR
            argv, feed = ([path] if executable else ["bash", path]), None
        else:
            logger.info("Ignored init script %s: only *.sql, *.sql.gz and *.sh run.", name)
            continue
        logger.info("Running init script %s.", name)
        try:
            proc.run(argv, input=feed, env=env, timeout=3600, secrets=(cfg.postgres_password,
                                                                     cfg.replication_password))
        except CommandError as exc:
            raise FatalError(f"Init script {name} failed: {exc}") from None
