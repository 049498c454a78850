"""repmgrd, the failover daemon, as a child of the supervisor."""
import logging
import subprocess
import time

from .. import proc
from . import paths
from .server import child_env

logger = logging.getLogger(__name__)

RESTART_AFTER = 5.0  # a repmgrd that exits sooner after its start is not restarted at once


class Repmgrd:
    def __init__(self, pgdata):
        self.pgdata = pgdata
        self.process = None
        self.started = 0.0

    def start(self):
        argv = ["/usr/bin/repmgrd", "-f", paths.REPMGR_CONF, "--daemonize=false", "--no-pid-file"]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env=child_env(self.pgdata), text=True, errors="replace",
                                        start_new_session=True)
        self.started = time.monotonic()
        proc.forward_output(self.process, "repmgrd")

    def stop(self):
        """SIGTERM, then SIGKILL after 2 s: repmgrd keeps no state, and can hang in a name lookup."""
        proc.stop_child(self.process, 2)
        self.process = None

    def restart(self):
        """After pgcluster moved this node to another upstream: repmgrd must monitor that one."""
        self.stop()
        self.start()

    def uptime(self):
        """Seconds the running repmgrd has run; None when none runs."""
        if self.process is None or self.process.poll() is not None:
            return None
        return time.monotonic() - self.started

    def watch(self):
        """Start repmgrd again when it exited (not within RESTART_AFTER of its start)."""
        if self.process is None or self.process.poll() is None:
            return
        if time.monotonic() - self.started < RESTART_AFTER:
            return
        logger.warning("repmgrd exited with code %s; starting it again.", self.process.returncode)
        self.start()
