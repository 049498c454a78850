"""The node's generated configuration files, written at every start."""
from .. import render, tls
from . import paths
from .slots import syncs_slots


def render_all(cfg):
    """{path: (content, mode)} for postgresql.conf, configs.conf, pg_hba.conf, pgpass and repmgr.conf."""
    r = render.render
    tls_only = cfg.tls.enabled and cfg.tls.required
    return {
        paths.POSTGRESQL_CONF: (r("postgresql.conf", pgdata=cfg.pgdata, hba_file=paths.HBA_CONF,
                                  socket_dir=paths.SOCKET_DIR, cluster_label=f"{cfg.cluster_name}/{cfg.node_name}",
                                  runtime_file=paths.RUNTIME_CONF, settings_file=paths.SETTINGS_CONF,
                                  sync_slots=syncs_slots(cfg), tls=cfg.tls, tls_cert=tls.CERT, tls_key=tls.KEY,
                                  tls_ca=tls.CA), 0o644),
        paths.SETTINGS_CONF: (r("configs.conf", settings=cfg.settings), 0o644),
        paths.HBA_CONF: (r("pg_hba.conf", networks=cfg.allowed_networks, tls_only=tls_only,
                           kind="hostssl" if tls_only else "host   "), 0o644),
        paths.PGPASS: (r("pgpass", credentials=[(cfg.replication_user, cfg.replication_password),
                                                (cfg.postgres_user, cfg.postgres_password)]), 0o600),
        paths.REPMGR_CONF: (r("repmgr.conf", node_id=cfg.node_id, node_name=cfg.node_name, host=cfg.host,
                              replication_user=cfg.replication_user, replication_db=cfg.replication_db,
                              connect_timeout=cfg.connect_timeout, pgdata=cfg.pgdata, bindir=paths.BINDIR,
                              passfile=paths.PGPASS, use_slots=cfg.use_slots, priority=cfg.priority,
                              monitor_interval=cfg.monitor_interval, reconnect_attempts=cfg.reconnect_attempts,
                              reconnect_interval=cfg.reconnect_interval, config_file=paths.REPMGR_CONF,
                              voters=cfg.voters, status_port=cfg.status_port, fence_timeout=cfg.fence_timeout,
                              consistency=cfg.consistency, tls_params=cfg.tls.libpq()), 0o644),
    }


def write_all(cfg):
    """Write every generated file; runtime.conf starts empty and is pgcluster's to change later."""
    for path, (content, mode) in render_all(cfg).items():
        render.write_atomic(path, content, mode)
    set_runtime({})


def set_runtime(settings):
    """Rewrite runtime.conf (settings pgcluster changes while running, such as synchronous_standby_names)."""
    lines = [f"# {render.HEADER}"] + [f"{k} = {render.pg_string(v)}" for k, v in settings.items()]
    render.write_atomic(paths.RUNTIME_CONF, "\n".join(lines) + "\n")


def primary_conninfo(cfg, host):
    """What repmgr writes for a standby of host (the replication user, the password file, this node's name),
    with the database name the slot sync worker needs on a first-level standby."""
    return render.conninfo(user=cfg.replication_user, passfile=paths.PGPASS, connect_timeout=cfg.connect_timeout,
                           host=host, port=cfg.upstream_port, application_name=cfg.node_name,
                           dbname=cfg.replication_db if syncs_slots(cfg) else None, **cfg.tls.libpq())
