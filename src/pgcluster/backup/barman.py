"""The barman command line, with this container's configuration."""
import logging
import os

from .. import proc, tls
from . import paths

logger = logging.getLogger(__name__)


def env():
    return {"PATH": f"{paths.BINDIR}:/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC", "HOME": "/var/lib/barman",
            "PGPASSFILE": paths.PGPASS, **tls.client_env()}


def run(*args, timeout=600, check=True, quiet=True):
    quiet_flag = ["-q"] if quiet else []
    return proc.run(["barman", "-c", paths.BARMAN_CONF, *quiet_flag, *args], timeout=timeout, env=env(),
                    check=check)


def receiver(server):
    """The arguments of the pg_receivewal streaming for this server, or None when none runs."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = [a.decode(errors="replace") for a in handle.read().split(b"\0") if a]
        except OSError:
            continue
        if argv and argv[0].endswith("pg_receivewal") and any(f"/{server}/" in a for a in argv):
            return argv
    return None
