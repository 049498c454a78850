"""CONFIGS for pgpool: the names pgpool knows and the ones pgcluster manages, checked before anything is
written; and the one setting the watcher applies itself (delay_threshold)."""
import re

from . import paths

DELAY_THRESHOLD = 1048576  # bytes of WAL; CONFIGS delay_threshold changes it, 0 turns the rule off

# Settings pgcluster writes itself; CONFIGS may not change them.
MANAGED = re.compile(r"^(backend_(hostname|port|weight|data_directory|flag|application_name)\d+|"
                     r"backend_clustering_mode|listen_addresses|port|unix_socket_directories|pcp_.*|"
                     r"pid_file_name|logdir|enable_pool_hba|pool_passwd|use_watchdog|sr_check_period)$")


def known():
    """Every setting name in pgpool's sample configuration (commented out or not)."""
    names = set()
    with open(paths.SAMPLE_CONF, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(r"^\s*#?\s*([a-z_][a-z0-9_]*)\s*=", line)
            if match:
                names.add(match.group(1))
    return names


def problems(settings, judged=True):
    """Problems with pgpool CONFIGS: names pgpool does not know (judged against its sample configuration) or
    that pgcluster manages, a bad threshold."""
    if not settings:
        return []
    names = None
    if judged:
        try:
            names = known()
        except OSError as exc:
            return [f"CONFIGS cannot be judged here: pgpool's sample configuration is missing ({exc.strerror}); "
                    "check the router's settings in the pgpool image."]
    found = []
    unknown = sorted(n for n in settings if names is not None and n not in names and not MANAGED.match(n))
    if unknown:
        found.append(f"CONFIGS sets {', '.join(unknown)}, which pgpool-II does not know; "
                     f"expected name:value pairs of pgpool.conf settings.")
    managed = sorted(n for n in settings if MANAGED.match(n))
    if managed:
        found.append(f"CONFIGS sets {', '.join(managed)}, which pgcluster manages (BACKENDS, the "
                     f"container layout and the lag check); remove it from CONFIGS.")
    if not settings.get("delay_threshold", "0").isdigit():
        found.append(f"CONFIGS sets delay_threshold to {settings['delay_threshold']!r}; expected a whole "
                     f"number of bytes, such as delay_threshold:1048576 (0 turns the lag rule off).")
    return found


def delay_threshold(cfg):
    """Bytes of WAL a standby may lag behind the primary and still get reads (the watcher applies it)."""
    return int(cfg.settings.get("delay_threshold", DELAY_THRESHOLD))
