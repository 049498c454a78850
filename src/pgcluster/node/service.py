"""`pgcluster node service start|stop|restart`: repmgr's service commands, carried out by the supervisor.

PostgreSQL runs under the supervisor, never under pg_ctl, so repmgr asks the
supervisor: the request is written to a file and the supervisor is woken
with SIGUSR1; it writes the request's id to the done file when it is done.
"""
import logging
import os
import signal
import threading
import time

from ..errors import FatalError
from . import paths

logger = logging.getLogger(__name__)


def request(action, timeout=120):
    """Ask the running supervisor to start/stop/restart PostgreSQL; True when PostgreSQL runs afterwards."""
    with open(paths.SUPERVISOR_PID) as handle:
        pid = int(handle.read())
    request_id = f"{os.getpid()}-{time.time()}"
    with open(paths.SERVICE_REQUEST, "w") as handle:
        handle.write(f"{request_id} {action}")
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(paths.SERVICE_DONE) as handle:
                if handle.read() == request_id:
                    return action != "stop"
        except OSError:
            pass
        time.sleep(0.2)
    raise FatalError(f"The supervisor did not finish '{action}' within {timeout} s.")


class Requests:
    """The supervisor's side: woken by SIGUSR1, served from its loop."""

    def __init__(self):
        self.woken = threading.Event()

    def install(self):
        with open(paths.SUPERVISOR_PID, "w") as handle:
            handle.write(str(os.getpid()))
        signal.signal(signal.SIGUSR1, lambda *_: self.woken.set())

    def serve(self, running, restart):
        """Carry out a pending request. running(): whether PostgreSQL runs; restart(): stop and start it."""
        if not self.woken.is_set():
            return
        self.woken.clear()
        try:
            with open(paths.SERVICE_REQUEST) as handle:
                request_id, action = handle.read().split()
        except (OSError, ValueError):
            return
        logger.info("repmgr asked to %s PostgreSQL.", action)
        if action == "restart" or (action == "start" and not running()):
            restart()
        elif action == "stop":
            logger.warning("Refused to stop PostgreSQL on request: stop the container instead.")
        with open(paths.SERVICE_DONE, "w") as handle:
            handle.write(request_id)
