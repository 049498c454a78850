"""repmgr commands, run as the postgres user with the generated repmgr.conf."""
import logging

from .. import proc
from . import paths

logger = logging.getLogger(__name__)


def child_env(pgdata):
    """A trimmed environment for PostgreSQL, repmgr and their children: no secrets."""
    return {
        "PATH": f"{paths.BINDIR}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "HOME": "/var/lib/postgresql",
        "PGDATA": pgdata,
        "PGPASSFILE": paths.PGPASS,
    }


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


def daemon_argv():
    return ["/usr/bin/repmgrd", "-f", paths.REPMGR_CONF, "--daemonize=false", "--no-pid-file"]
