"""repmgrd, the failover daemon, as a child of the supervisor."""
import logging
import os
import signal
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

    def stop(self, grace=2):
        """SIGTERM, then SIGKILL after grace seconds: repmgrd keeps no state, and can hang in a name lookup
        or in a check of a frozen node (until its connect timeout). Whatever it started (a follow, a promotion
        check) stops with it: the process group goes too."""
        if self.process is None:
            return
        proc.stop_child(self.process, grace)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # it leads its own session (start_new_session)
        except ProcessLookupError:
            pass
        self.process = None

    def restart(self):
        """After pgcluster moved this node to another upstream, or promoted it: repmgrd must monitor what the
        node is now. The one running may be waiting on a frozen upstream: it is not waited for."""
        self.stop(grace=0)
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
