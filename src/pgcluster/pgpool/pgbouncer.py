"""PgBouncer in the router container: the pooled endpoint of the primary, and read-only pools of the standbys.

pgbouncer.ini points every database at the current primary and, for each name in PGBOUNCER_DATABASES,
<name>_ro at the standbys that stream from it. The watcher calls retarget() with what the cluster's
answers show; PgBouncer reloads, which ends no session. A switchover pauses it (PAUSE waits for running
transactions and holds new queries), retargets it, and resumes it.
"""
import logging
import os
import re
import subprocess
import tempfile
import time

import psycopg2

from .. import db, proc, render, tls
from . import paths

logger = logging.getLogger(__name__)

BACKEND_PORT = 5432
# PgBouncer logs every stats_period; routine lines an operator does not need in the container log.
NOISE = re.compile(r"(stats: \d+ xacts/s|LOG (C|S)-0x)")
MANAGED = frozenset({"listen_addr", "listen_port", "unix_socket_dir", "pidfile", "logfile", "syslog", "auth_type",
                     "auth_file", "pool_mode", "client_tls_sslmode", "client_tls_cert_file", "client_tls_key_file",
                     "client_tls_ca_file", "server_tls_sslmode", "server_tls_ca_file"})


def render_all(cfg, primary, readers):
    """{path: (content, mode)}: pgbouncer.ini pointed at primary (readers: hosts of the read-only pools)."""
    return {
        paths.PGBOUNCER_INI: (render.render(
            "pgbouncer.ini", primary=primary, readers=readers or [primary], port=BACKEND_PORT,
            read_only=cfg.pgbouncer_databases, listen_port=paths.PGBOUNCER_PORT, run_dir=paths.PGBOUNCER_RUN,
            userlist=paths.PGBOUNCER_USERS, pool_mode=cfg.pgbouncer_pool_mode, settings=cfg.pgbouncer_settings,
            tls=cfg.tls, tls_cert=tls.CERT, tls_key=tls.KEY, tls_ca=tls.CA),
            0o600),
        paths.PGBOUNCER_USERS: (render.render("userlist.txt", users=cfg.db_users), 0o600),
    }


def write_all(cfg, primary, readers):
    for path, (content, mode) in render_all(cfg, primary, readers).items():
        render.write_atomic(path, content, mode)


def problems(settings, pool_mode, judged=True):
    """Problems with PGBOUNCER_CONFIGS: names pgcluster manages, and what PgBouncer itself says of the rest (it
    starts on a throwaway socket with them, and either refuses them at once or comes up)."""
    managed = sorted(n for n in settings if n in MANAGED)
    if managed:
        return [f"PGBOUNCER_CONFIGS sets {', '.join(managed)}, which pgcluster manages; remove it from "
                f"PGBOUNCER_CONFIGS."]
    return judge(settings, pool_mode) if settings and judged else []


def judge(settings, pool_mode):
    """What this image's PgBouncer says of the settings: [] or one problem with its messages."""
    if not os.path.exists(paths.PGBOUNCER):
        return ["PGBOUNCER_CONFIGS cannot be judged here: PgBouncer is not installed; check the router's settings "
                "in the pgpool image."]
    with tempfile.TemporaryDirectory(prefix="pgbouncer-check.") as tmp:
        ini = os.path.join(tmp, "check.ini")
        lines = ["[databases]", "[pgbouncer]", "listen_addr =", f"unix_socket_dir = {tmp}", "listen_port = 6399",
                 "logfile =", "pidfile =", f"pool_mode = {pool_mode}"]
        lines += [f"{name} = {value}" for name, value in settings.items()]
        with open(ini, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        child = subprocess.Popen([paths.PGBOUNCER, ini], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said = []
        deadline = time.monotonic() + 5
        for line in child.stdout:  # it says "process up" once it accepted the settings
            said.append(line)
            if "process up" in line or time.monotonic() > deadline:
                break
        child.terminate()
        child.wait()
    errors = [re.sub(r" in configuration \(.*?\)", "", line.split(" ERROR ", 1)[1].strip())
              for line in said if " ERROR " in line]
    if errors:
        return [f"PGBOUNCER_CONFIGS is not valid: {'; '.join(errors)}. Expected name:value pairs of pgbouncer.ini "
                f"settings."]
    return []


class PgBouncer:
    """The PgBouncer process and its admin console (the Unix socket, as user pgbouncer: no password)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.process = None
        self.target = None  # (primary, readers) it points at

    def start(self, primary, readers):
        write_all(self.cfg, primary, readers)
        self.target = (primary, tuple(readers))
        self.process = subprocess.Popen([paths.PGBOUNCER, paths.PGBOUNCER_INI], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, errors="replace",
                                        start_new_session=True, env={"PATH": "/usr/sbin:/usr/bin:/bin",
                                                                     "LANG": "C.UTF-8", "TZ": "UTC"})
        proc.forward_output(self.process, "pgbouncer", skip=NOISE)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        proc.stop_child(self.process, 10)  # SIGTERM: PgBouncer closes every connection and exits

    def console(self, command, timeout=10, named=False):
        """Rows of an admin console command (dicts by column name when named)."""
        conn = db.connect(paths.PGBOUNCER_RUN, paths.PGBOUNCER_PORT, "pgbouncer", "pgbouncer", timeout=2,
                          application_name="pgcluster")
        try:
            return db.rows(conn, command, timeout=timeout, named=named)
        finally:
            conn.close()

    def retarget(self, primary, readers, why):
        """Point the pools at primary and readers, if they point elsewhere; reload."""
        wanted = (primary, tuple(readers))
        if wanted == self.target:
            return False
        write_all(self.cfg, primary, readers)
        self.console("RELOAD")
        found = {row[0]: row[1] for row in self.console("SHOW DATABASES")}
        if found.get("*", primary) != primary and "*" in found:
            raise psycopg2.OperationalError(f"PgBouncer did not take the new primary {primary} on reload")
        before = self.target[0] if self.target else None
        self.target = wanted
        if primary != before:
            logger.info("PgBouncer now sends writes to %s instead of %s, because %s.", primary, before, why)
        logger.info("PgBouncer's read-only pools now reach %s.", ", ".join(readers or [primary]))
        return True

    def pause(self, timeout):
        """PAUSE: running transactions finish, new queries wait; False when that took longer than timeout."""
        try:
            self.console("PAUSE", timeout=timeout)
            return True
        except psycopg2.Error:
            self.resume()  # a PAUSE given up on would otherwise stay
            return False

    def resume(self):
        try:
            self.console("RESUME")
        except psycopg2.Error as exc:
            if "not paused" not in str(exc):
                raise
