"""The router container's process under tini: waits for backends, runs pgpool-II and PgBouncer, watches."""
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time

from .. import proc, tls
from ..errors import FatalError
from . import paths
from .control import RouterControl
from .liveness import HUNG_AFTER, Liveness, unexplained
from .pgbouncer import PgBouncer
from .watcher import Watcher

logger = logging.getLogger(__name__)

WATCH_EVERY = 2.0
# Every PCP call (the watcher makes one a round) logs its process's birth and death.
PCP_NOISE = re.compile(r"(forked new pcp worker|PCP process with pid|PCP process: \d+ started)")


def answering(backends, timeout=1.0):
    """The backends that accept a TCP connection now."""
    up = []
    for b in backends:
        try:
            socket.create_connection((b.host, b.port), timeout=timeout).close()
            up.append(b)
        except OSError:
            pass
    return up


def wait_for_backends(cfg):
    """Wait until REQUIRE_MIN_BACKENDS backends answer; FatalError after WAIT_BACKEND_TIMEOUT."""
    if cfg.require_min_backends == 0:
        return
    deadline = time.monotonic() + cfg.wait_backend_timeout
    while True:
        up = answering(cfg.backends)
        if len(up) >= cfg.require_min_backends:
            logger.info("%s of %s backends answer (%s); starting pgpool.", len(up), len(cfg.backends),
                        ", ".join(b.host for b in up))
            return
        if time.monotonic() > deadline:
            raise FatalError(
                f"REQUIRE_MIN_BACKENDS={cfg.require_min_backends} but only {len(up)} backends "
                f"({', '.join(b.host for b in up) or 'none'}) accepted connections within "
                f"WAIT_BACKEND_TIMEOUT={cfg.wait_backend_timeout} s; exiting.")
        time.sleep(1)


class Router:
    def __init__(self, cfg):
        self.cfg = cfg
        self.pgpool = None
        self.pgbouncer = PgBouncer(cfg)
        self.stopping = threading.Event()
        self.certificates = tls.Watch(cfg.tls, who=socket.gethostname())  # installed before anything uses them

    def _on_stop(self, signum, _frame):
        logger.info("Received %s; stopping pgpool and PgBouncer.", signal.Signals(signum).name)
        self.stopping.set()

    def run(self):
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        wait_for_backends(self.cfg)
        self.start_pgpool()
        logger.info("pgpool started with %s backends: %s.", len(self.cfg.backends),
                    ", ".join(f"{b.num}:{b.host}" for b in self.cfg.backends))
        # Until the watcher knows the primary, PgBouncer points at the first backend.
        self.pgbouncer.start(self.cfg.backends[0].host, [])
        RouterControl(self.cfg, self.pgbouncer).serve()
        watcher = Watcher(self.cfg, self.pgpool.pid, pgbouncer=self.pgbouncer)
        liveness = Liveness(self.cfg, every=WATCH_EVERY)
        liveness.start(self.stopping)
        while not self.stopping.wait(WATCH_EVERY):
            for name, child in (("pgpool", self.pgpool), ("PgBouncer", self.pgbouncer.process)):
                if child.poll() is not None:
                    logger.error("%s exited with code %s; stopping the container so that it restarts.", name,
                                 child.returncode)
                    self.stop()
                    return 1
            silent = liveness.silent_for()
            if silent > HUNG_AFTER and unexplained(self.cfg):
                logger.error("pgpool has answered no login on its own socket for %.0f s although it runs and "
                             "does not wait for a primary; restarting pgpool (PgBouncer keeps its sessions).",
                             silent)
                self.restart_pgpool()
                watcher = Watcher(self.cfg, self.pgpool.pid, pgbouncer=self.pgbouncer)
                liveness.reset()
                continue
            if self.certificates.changed():
                self.reload_certificates()
                watcher = Watcher(self.cfg, self.pgpool.pid, pgbouncer=self.pgbouncer)
                liveness.reset()
            try:
                watcher.tick()
            except Exception as exc:  # pgpool may still be starting; the next round retries
                logger.warning("The attach watcher could not run: %s", str(exc).strip())
        return self.stop()

    def reload_certificates(self):
        """New TLS files: PgBouncer and the endpoint load them at once; pgpool reads its own at start only, so it
        restarts (its sessions end; PgBouncer's and the other router's go on)."""
        self.pgbouncer.console("RELOAD")
        tls.reload()
        logger.info("Restarting pgpool so that it serves the replaced TLS certificate.")
        self.restart_pgpool()

    def start_pgpool(self):
        if os.path.exists(paths.PID_FILE):  # after a SIGKILL it can hold "1", which stops the next start
            os.unlink(paths.PID_FILE)
        # -D: forget pgpool_status, which would keep a node down from the previous run.
        argv = ["/usr/sbin/pgpool", "-n", "-D", "-f", paths.PGPOOL_CONF, "-F", paths.PCP_CONF,
                "-a", paths.POOL_HBA]
        self.pgpool = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       errors="replace", start_new_session=True,
                                       env={"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"})
        proc.forward_output(self.pgpool, "pgpool", skip=PCP_NOISE)

    def restart_pgpool(self):
        """Kill every pgpool process (its own session: SIGKILL reaches a frozen one too) and start it again."""
        try:
            os.killpg(self.pgpool.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.pgpool.wait(20)
        self.start_pgpool()
        logger.info("pgpool restarted.")

    def stop(self):
        self.pgbouncer.stop()
        if self.pgpool.poll() is not None:
            return 0
        self.pgpool.send_signal(signal.SIGINT)  # SIGTERM is a smart shutdown that waits for clients
        try:
            return self.pgpool.wait(20) and 0
        except subprocess.TimeoutExpired:
            self.pgpool.kill()
            return 0
