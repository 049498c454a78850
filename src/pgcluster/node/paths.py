"""Where the node image keeps its files."""
from ..paths import BINDIR, CONF_DIR, PG_MAJOR, RECOVERY_DIR, SOCKET_DIR  # noqa: F401 (one place per image)

POSTGRESQL_CONF = f"{CONF_DIR}/postgresql.conf"
SETTINGS_CONF = f"{CONF_DIR}/configs.conf"
RUNTIME_CONF = f"{CONF_DIR}/runtime.conf"
HBA_CONF = f"{CONF_DIR}/pg_hba.conf"
REPMGR_CONF = f"{CONF_DIR}/repmgr.conf"
PGPASS = f"{CONF_DIR}/pgpass"
POSTGRES = f"{BINDIR}/postgres"
INITDB_DIR = "/docker-entrypoint-initdb.d"
# The supervisor and `pgcluster node service` (run by repmgr) meet through these.
SUPERVISOR_PID = "/tmp/pgcluster-node.pid"
SERVICE_REQUEST = "/tmp/pgcluster-node.request"
SERVICE_DONE = "/tmp/pgcluster-node.done"
PROMOTING_MARKER = "/tmp/pgcluster-node.promoting"  # repmgrd's validation and the takeover announce a promotion
# Markers in PGDATA.
INIT_MARKER = "pgcluster.initialising"  # an initialisation that has not finished
FENCED_MARKER = "pgcluster.fenced"      # this standby-mode data directory is a fenced primary
