"""The local PostgreSQL server: initdb, the server process, single-user crash recovery."""
import glob
import logging
import os
import signal
import subprocess
import time

import psycopg2

from .. import db, proc, tls
from ..errors import CommandError, FatalError
from . import paths

logger = logging.getLogger(__name__)


def local_connect(user, dbname, timeout=2):
    return db.connect(paths.SOCKET_DIR, 5432, user, dbname, timeout=timeout)


def child_env(pgdata):
    """A trimmed environment for PostgreSQL, repmgr and their children: no secrets."""
    return {"PATH": f"{paths.BINDIR}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC",
            "HOME": "/var/lib/postgresql", "PGDATA": pgdata, "PGPASSFILE": paths.PGPASS, **tls.client_env()}


def initdb(pgdata, superuser, password):
    """Create the data directory: scram-sha-256, checksums (pg_rewind needs them), UTF-8. The password
    reaches initdb on its standard input, never in a file or an argument."""
    proc.run([f"{paths.BINDIR}/initdb", "-D", pgdata, "-U", superuser, "--pwfile=/dev/stdin",
              "--auth-local=trust", "--auth-host=scram-sha-256", "--data-checksums",
              "--encoding=UTF8", "--locale=C.UTF-8"], input=password + "\n", timeout=300,
             env=child_env(pgdata), secrets=(password,))


def remove_stale_locks(pgdata):
    """Lock files left by a killed container (postmaster.pid, the socket's .lock) name a PID that in
    the restarted container can belong to a live, unrelated process or thread, and PostgreSQL then
    refuses to start. Only one server runs per container and none runs now: remove them."""
    for path in [os.path.join(pgdata, "postmaster.pid"),
                 *glob.glob(os.path.join(paths.SOCKET_DIR, ".s.PGSQL.*.lock"))]:
        if os.path.exists(path):
            os.unlink(path)
            logger.info("Removed %s, left by the previous run of this container.", os.path.basename(path))


def single_user_recovery(pgdata):
    """Crash recovery in single-user mode, so pg_rewind finds a cleanly shut down target."""
    remove_stale_locks(pgdata)
    try:
        proc.run([paths.POSTGRES, "--single", "-D", pgdata, "-c", f"config_file={paths.POSTGRESQL_CONF}",
                  "postgres"], input="", timeout=600, env=child_env(pgdata))
    except CommandError as exc:
        raise FatalError(f"Crash recovery before pg_rewind failed: {exc}") from None


class Server:
    """A postgres child process whose output is logged line by line."""

    def __init__(self, pgdata, extra=(), label="postgres"):
        self.pgdata = pgdata
        self.extra = list(extra)
        self.label = label
        self.process = None

    def start(self):
        remove_stale_locks(self.pgdata)
        argv = [paths.POSTGRES, "-D", self.pgdata, "-c", f"config_file={paths.POSTGRESQL_CONF}", *self.extra]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env=child_env(self.pgdata), text=True, errors="replace",
                                        start_new_session=True)
        proc.forward_output(self.process, self.label)

    def running(self):
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self):
        return self.process.returncode if self.process else None

    def wait_ready(self, user, dbname="postgres", timeout=600):
        """Wait until the server accepts connections; FatalError if it exits or the deadline passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise FatalError(f"PostgreSQL exited with code {self.process.returncode} while starting; "
                                 f"see its log lines above.")
            try:
                local_connect(user, dbname, timeout=1).close()
                return
            except psycopg2.Error:
                time.sleep(0.2)
        raise FatalError(f"PostgreSQL did not accept connections within {timeout} s.")

    def in_recovery(self, user):
        """Whether the running server is still in recovery (a standby, or restored data replaying WAL)."""
        conn = local_connect(user, "postgres")
        try:
            return bool(db.scalar(conn, "SELECT pg_is_in_recovery()"))
        finally:
            conn.close()

    def signal(self, signum):
        if self.running():
            self.process.send_signal(signum)

    def stop(self, immediate=False, timeout=60):
        """Fast shutdown (SIGINT), then immediate (SIGQUIT) if it takes longer than timeout.

        immediate=True goes straight to SIGQUIT: every session ends at once, without waiting
        for walsenders to reach standbys that may be cut off (crash recovery follows at start).
        """
        if not self.running():
            return self.exit_code or 0
        self.signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("PostgreSQL did not stop within %s s; sending an immediate shutdown.", timeout)
            self.signal(signal.SIGQUIT)
            return self.process.wait()
