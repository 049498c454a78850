"""repmgr commands, run as the postgres user with the generated repmgr.conf."""
from .. import db, proc
from ..errors import CommandError
from . import paths
from .server import child_env, local_connect


def repmgr(cfg, *args, timeout=120):
    argv = ["/usr/bin/repmgr", "-f", paths.REPMGR_CONF, *args]
    return proc.run(argv, timeout=timeout, env=child_env(cfg.pgdata),
                    secrets=(cfg.postgres_password, cfg.replication_password))


def clone(cfg, source_host, upstream_id):
    """repmgr standby clone from source_host, following node upstream_id."""
    repmgr(cfg, "-h", source_host, "-p", str(cfg.upstream_port), "-U", cfg.replication_user,
           "-d", cfg.replication_db, "standby", "clone", f"--upstream-node-id={upstream_id}",
           "--fast-checkpoint", "-F", timeout=3600)


def register_primary(cfg):
    repmgr(cfg, "primary", "register", "--force")


def register_standby(cfg, upstream_id):
    repmgr(cfg, "standby", "register", f"--upstream-node-id={upstream_id}", "--force")


def follow(cfg, upstream_id):
    repmgr(cfg, "standby", "follow", f"--upstream-node-id={upstream_id}", timeout=90)


def promote(cfg):
    """Promote this standby and record it as the primary in repmgr's metadata.

    What `repmgr standby promote` does, without its checks (the caller made them) and without its wait: it
    polls the promotion every promote_check_interval, at least a second, while pg_promote(wait) returns
    as soon as the promotion is done.
    """
    conn = local_connect(cfg.postgres_user, cfg.replication_db, timeout=5)
    try:
        if not db.scalar(conn, "SELECT pg_promote(true, 60)", timeout=70):
            raise CommandError("pg_promote() did not finish the promotion within 60 s.")
        conn.autocommit = False
        # Not a commit that waits for a standby (strict mode): none streams from this new primary yet, and the
        # supervisor, which runs this, must not wait on one. The rows reach the standbys once they follow.
        db.execute(conn, "SET LOCAL synchronous_commit = local")
        db.execute(conn, "UPDATE repmgr.nodes SET active = FALSE WHERE type = 'primary' AND active AND node_id <> %s",
                   (cfg.node_id,))
        db.execute(conn, "UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL, active = TRUE "
                         "WHERE node_id = %s", (cfg.node_id,))
        # repmgr's own record of it, as `repmgr standby promote` writes (repmgr cluster event shows it)
        db.execute(conn, "INSERT INTO repmgr.events (node_id, event, successful, details) "
                         "VALUES (%s, 'standby_promote', TRUE, %s)",
                   (cfg.node_id, "promoted by pgcluster's takeover"))
        conn.commit()
    finally:
        conn.close()


def record(cfg):
    """This node's row in repmgr's metadata: (type, active, upstream_node_id), or None."""
    conn = local_connect(cfg.postgres_user, cfg.replication_db)
    try:
        found = db.rows(conn, "SELECT type, active, upstream_node_id FROM repmgr.nodes WHERE node_id = %s",
                        (cfg.node_id,))
    finally:
        conn.close()
    return found[0] if found else None


def upstream(cfg):
    """The host this standby's primary_conninfo names ('' for none)."""
    from .facts import host_of

    conn = local_connect(cfg.postgres_user, cfg.replication_db)
    try:
        return host_of(db.scalar(conn, "SELECT current_setting('primary_conninfo')"))
    finally:
        conn.close()
