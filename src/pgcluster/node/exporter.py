"""prometheus-postgres-exporter: PostgreSQL's own statistics for Prometheus, as a child of the supervisor.

It logs in over the local socket (trust, as the superuser: no password in its environment) and answers on
POSTGRES_EXPORTER_PORT. It is started each time PostgreSQL has started in a role: an exporter whose first
scrape met no server keeps answering pg_up 0 after the server is up (0.17). It is started again when it
exits.
"""
import logging
import subprocess
import time

from .. import proc, render, tls
from .paths import CONF_DIR

logger = logging.getLogger(__name__)

BINARY = "/usr/bin/prometheus-postgres-exporter"
RESTART_AFTER = 10.0
WEB_CONFIG = f"{CONF_DIR}/exporter-web.yml"  # HTTPS with this node's certificate, read at every connection


class Exporter:
    def __init__(self, cfg):
        self.cfg = cfg
        self.process = None
        self.started = 0.0

    def start(self):
        if not self.cfg.postgres_exporter_port:
            return
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC",
               "DATA_SOURCE_NAME": f"host=/var/run/postgresql user={self.cfg.postgres_user} dbname=postgres "
                                   "sslmode=disable application_name=postgres_exporter"}
        argv = [BINARY, f"--web.listen-address=:{self.cfg.postgres_exporter_port}", "--config.file=/dev/null",
                "--log.level=warn",
                f"--log.format={'json' if self.cfg.log_format == 'json' else 'logfmt'}"]
        if self.cfg.tls.enabled:
            render.write_atomic(WEB_CONFIG, f"tls_server_config:\n  cert_file: {tls.CERT}\n  key_file: {tls.KEY}\n")
            argv.append(f"--web.config.file={WEB_CONFIG}")
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                                        errors="replace", start_new_session=True)
        self.started = time.monotonic()
        proc.forward_output(self.process, "exporter")

    def watch(self):
        """Start the exporter again when it exited (not within RESTART_AFTER of its start)."""
        if self.process is None or self.process.poll() is None or time.monotonic() - self.started < RESTART_AFTER:
            return
        logger.warning("prometheus-postgres-exporter exited with code %s; starting it again.", self.process.returncode)
        self.start()

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        proc.stop_child(self.process, 5)
        self.process = None
