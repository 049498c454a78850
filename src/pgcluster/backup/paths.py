"""Where the backup image keeps its files."""
from ..paths import BINDIR, CONF_DIR, RECOVERY_DIR  # noqa: F401 (one place per image)

BARMAN_CONF = f"{CONF_DIR}/barman.conf"
PGPASS = f"{CONF_DIR}/pgpass"
LOG_FILE = "/var/log/barman/barman.log"
