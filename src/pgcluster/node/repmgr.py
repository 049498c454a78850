"""repmgr commands, run as the postgres user with the generated repmgr.conf."""
from .. import db, proc
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
    repmgr(cfg, "standby", "promote", timeout=90)


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
