"""barman.conf and the password file, from the backup configuration."""
from .. import render
from . import paths


def conninfos(cfg):
    """(conninfo, streaming_conninfo): every listed node, the writable one chosen by libpq.

    Barman splits these on whitespace, so no value may be quoted; names are identifiers.
    """
    common = dict(host=",".join(cfg.hosts), port=",".join(str(cfg.port) for _ in cfg.hosts),
                  target_session_attrs="read-write", connect_timeout=5, **cfg.tls.libpq())
    conninfo = render.conninfo(**common, user=cfg.postgres_user, dbname=cfg.postgres_db,
                               application_name="barman")
    streaming = render.conninfo(**common, user=cfg.replication_user, dbname="replication")
    return conninfo, streaming


def render_all(cfg):
    conninfo, streaming = conninfos(cfg)
    return {
        paths.BARMAN_CONF: (render.render("barman.conf", backup_dir=cfg.backup_dir, log_file=paths.LOG_FILE,
                                          bindir=paths.BINDIR, server=cfg.server, conninfo=conninfo,
                                          streaming_conninfo=streaming, slot=cfg.slot,
                                          retention_days=cfg.retention_days), 0o600),
        paths.PGPASS: (render.render("pgpass", credentials=[(cfg.replication_user, cfg.replication_password),
                                                            (cfg.postgres_user, cfg.postgres_password)]), 0o600),
    }


def write_all(cfg):
    for path, (content, mode) in render_all(cfg).items():
        render.write_atomic(path, content, mode)
