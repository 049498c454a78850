"""pgpool.conf, pool_hba.conf, pool_passwd, pcp.conf and the PCP password file."""
import hashlib
import re

from .. import render

CONF_DIR = "/etc/pgcluster"
PGPOOL_CONF = f"{CONF_DIR}/pgpool.conf"
POOL_HBA = f"{CONF_DIR}/pool_hba.conf"
POOL_PASSWD = f"{CONF_DIR}/pool_passwd"  # pgpool reads it beside pgpool.conf
PCP_CONF = f"{CONF_DIR}/pcp.conf"
PCPPASS = f"{CONF_DIR}/pcppass"
RUN_DIR = "/var/run/pgpool"
LOG_DIR = "/var/log/pgpool"
PCP_PORT = 9898
SAMPLE_CONF = "/usr/share/pgpool2/pgpool.conf"  # Debian's full sample: every setting pgpool 4.3 knows
SEARCH_PRIMARY_TIMEOUT = 30
DELAY_THRESHOLD = 1048576  # bytes of WAL; CONFIGS delay_threshold changes it, 0 turns the rule off

# Settings pgcluster writes itself; CONFIGS may not change them.
MANAGED = re.compile(r"^(backend_(hostname|port|weight|data_directory|flag|application_name)\d+|"
                     r"backend_clustering_mode|listen_addresses|port|unix_socket_directories|pcp_.*|"
                     r"pid_file_name|logdir|enable_pool_hba|pool_passwd|use_watchdog|sr_check_period)$")


def render_all(cfg, unweighted=()):
    """{path: (content, mode)} for every file pgpool reads; backends in unweighted (nums) get weight 0."""
    r = render.render
    backends = [b._replace(weight=0) if b.num in unweighted else b for b in cfg.backends]
    return {
        PGPOOL_CONF: (r("pgpool.conf", backends=backends, run_dir=RUN_DIR, log_dir=LOG_DIR,
                        pcp_port=PCP_PORT, check_user=cfg.check_user, settings=cfg.settings,
                        search_primary_timeout=SEARCH_PRIMARY_TIMEOUT), 0o600),
        POOL_HBA: (r("pool_hba.conf"), 0o600),
        POOL_PASSWD: (r("pool_passwd", users=dict(cfg.db_users + ((cfg.check_user, cfg.check_password),)).items()),
                      0o600),
        PCP_CONF: (r("pcp.conf", user=cfg.pcp_user,
                     password_md5=hashlib.md5(cfg.pcp_password.encode()).hexdigest()), 0o600),
        PCPPASS: (r("pcppass", port=PCP_PORT, user=cfg.pcp_user, password=cfg.pcp_password), 0o600),
    }


def delay_threshold(cfg):
    """Bytes of WAL a standby may lag behind the primary and still get reads (the watcher applies it)."""
    return int(cfg.settings.get("delay_threshold", DELAY_THRESHOLD))


def write_all(cfg, unweighted=()):
    for path, (content, mode) in render_all(cfg, unweighted).items():
        render.write_atomic(path, content, mode)


def known_settings(sample=SAMPLE_CONF):
    """Every setting name in pgpool's sample configuration (commented out or not)."""
    names = set()
    with open(sample, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(r"^\s*#?\s*([a-z_][a-z0-9_]*)\s*=", line)
            if match:
                names.add(match.group(1))
    return names


def check_settings(settings, known):
    """Problems with pgpool CONFIGS: names pgpool does not know, or that pgcluster manages."""
    problems = []
    unknown = sorted(n for n in settings if n not in known and not MANAGED.match(n))
    if unknown:
        problems.append(f"CONFIGS sets {', '.join(unknown)}, which pgpool-II 4.3 does not know; "
                        f"expected name:value pairs of pgpool.conf settings.")
    managed = sorted(n for n in settings if MANAGED.match(n))
    if managed:
        problems.append(f"CONFIGS sets {', '.join(managed)}, which pgcluster manages (BACKENDS, the "
                        f"container layout and the lag check); remove it from CONFIGS.")
    if not settings.get("delay_threshold", "0").isdigit():
        problems.append(f"CONFIGS sets delay_threshold to {settings['delay_threshold']!r}; expected a whole "
                        f"number of bytes, such as delay_threshold:1048576 (0 turns the lag rule off).")
    return problems
