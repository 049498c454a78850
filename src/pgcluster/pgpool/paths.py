"""Where the router image keeps its files."""
from ..paths import CONF_DIR

PGPOOL_CONF = f"{CONF_DIR}/pgpool.conf"
POOL_HBA = f"{CONF_DIR}/pool_hba.conf"
POOL_PASSWD = f"{CONF_DIR}/pool_passwd"  # pgpool reads it beside pgpool.conf
PCP_CONF = f"{CONF_DIR}/pcp.conf"
PCPPASS = f"{CONF_DIR}/pcppass"
RUN_DIR = "/var/run/pgpool"
LOG_DIR = "/var/log/pgpool"
PID_FILE = f"{RUN_DIR}/pgpool.pid"
PGPOOL_PORT = 5432
PCP_PORT = 9898
SAMPLE_CONF = "/usr/share/pgpool2/pgpool.conf"  # Debian's full sample: every setting this pgpool knows
PGBOUNCER = "/usr/sbin/pgbouncer"
PGBOUNCER_INI = f"{CONF_DIR}/pgbouncer.ini"
PGBOUNCER_USERS = f"{CONF_DIR}/userlist.txt"
PGBOUNCER_RUN = "/var/run/pgbouncer"
PGBOUNCER_PORT = 6432
