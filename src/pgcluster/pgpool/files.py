"""pgpool.conf, pool_hba.conf, pool_passwd, pcp.conf and the PCP password file."""
import hashlib

from .. import render, tls
from . import paths

# How long pgpool searches for a primary when a request leaves it without one; every other request waits
# meanwhile. It outlasts a promotion (about 5 s after a primary fails); should it run out first, the
# watcher tells pgpool which node is primary.
SEARCH_PRIMARY_TIMEOUT = 10


def render_all(cfg, unweighted=()):
    """{path: (content, mode)} for every file pgpool reads; backends in unweighted (nums) get weight 0."""
    r = render.render
    backends = [b._replace(weight=0) if b.num in unweighted else b for b in cfg.backends]
    tls_only = cfg.tls.enabled and cfg.tls.required
    return {
        paths.PGPOOL_CONF: (r("pgpool.conf", backends=backends, run_dir=paths.RUN_DIR, log_dir=paths.LOG_DIR,
                              pid_file=paths.PID_FILE, pcp_port=paths.PCP_PORT, check_user=cfg.check_user,
                              settings=cfg.settings, search_primary_timeout=SEARCH_PRIMARY_TIMEOUT, tls=cfg.tls,
                              tls_cert=tls.CERT, tls_key=tls.KEY, tls_ca=tls.CA), 0o600),
        paths.POOL_HBA: (r("pool_hba.conf", tls_only=tls_only, kind="hostssl" if tls_only else "host   "), 0o600),
        paths.POOL_PASSWD: (r("pool_passwd", users=dict(cfg.db_users + ((cfg.check_user, cfg.check_password),))
                              .items()), 0o600),
        paths.PCP_CONF: (r("pcp.conf", user=cfg.pcp_user,
                           password_md5=hashlib.md5(cfg.pcp_password.encode()).hexdigest()), 0o600),
        paths.PCPPASS: (r("pcppass", port=paths.PCP_PORT, user=cfg.pcp_user, password=cfg.pcp_password), 0o600),
    }


def write_all(cfg, unweighted=()):
    for path, (content, mode) in render_all(cfg, unweighted).items():
        render.write_atomic(path, content, mode)
