"""The local PostgreSQL: data directory facts, initdb, and the server process."""
import glob
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import psycopg2

from .. import db, proc, render
from ..errors import CommandError, FatalError
from . import files, paths

logger = logging.getLogger(__name__)


def has_data(pgdata):
    return os.path.exists(os.path.join(pgdata, "PG_VERSION"))


def is_standby_dir(pgdata):
    return os.path.exists(os.path.join(pgdata, "standby.signal"))


def is_fenced_dir(pgdata):
    return os.path.exists(os.path.join(pgdata, paths.FENCED_MARKER))


def parse_lsn(text):
    """'0/3000148' -> integer position; '' or None -> 0."""
    if not text or "/" not in text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def controldata(pgdata):
    """pg_controldata's fields as a dict (empty when there is no data directory)."""
    if not has_data(pgdata):
        return {}
    out = proc.run([f"{paths.BINDIR}/pg_controldata", "-D", pgdata], timeout=10).stdout
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def incomplete_clone(pgdata):
    """A clone that stopped half-way: pg_control (copied last) is missing, or a backup_label
    is there without the signal file repmgr writes when the clone is complete.

    Data restored from a backup also has a backup_label, with recovery.signal beside it.
    """
    if not has_data(pgdata):
        return False
    if not os.path.exists(os.path.join(pgdata, "global", "pg_control")):
        return True
    signals = ("standby.signal", "recovery.signal", "pgcluster.restored")
    return os.path.exists(os.path.join(pgdata, "backup_label")) and not any(
        os.path.exists(os.path.join(pgdata, name)) for name in signals)


def clear_incomplete(pgdata):
    """Empty the data directory before initdb or a clone; only a half-finished one is ever removed."""
    if not os.listdir(pgdata):
        return
    if has_data(pgdata) and not incomplete_clone(pgdata):
        raise FatalError(f"{pgdata} holds a data directory; refusing to remove it.")
    logger.info("Removing a half-finished data directory before starting afresh.")
    clear_data_dir(pgdata)


def clear_data_dir(pgdata):
    """Empty the data directory (the volume's mount point itself stays)."""
    for name in os.listdir(pgdata):
        path = os.path.join(pgdata, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def data_facts(pgdata):
    """has_data, was_primary, timeline, lsn, cluster state: from the files alone.

    A half-finished clone counts as no data: it is cleared and cloned again.
    """
    fields = {} if incomplete_clone(pgdata) else controldata(pgdata)
    if not fields:
        return {"has_data": False, "was_primary": False, "timeline": 0, "lsn": 0, "state": ""}
    lsn = max(parse_lsn(fields.get("Latest checkpoint location")),
              parse_lsn(fields.get("Minimum recovery ending location")))
    return {
        "has_data": True,
        "was_primary": not is_standby_dir(pgdata) or is_fenced_dir(pgdata),
        "timeline": int(fields.get("Latest checkpoint's TimeLineID") or 0),
        "lsn": lsn,
        "state": fields.get("Database cluster state", ""),
    }


def initdb(pgdata, superuser, password):
    """Create the data directory: scram-sha-256, checksums (pg_rewind needs them), UTF-8."""
    with tempfile.NamedTemporaryFile("w", dir="/tmp", prefix="pwfile.", delete=True) as pwfile:
        os.chmod(pwfile.name, 0o600)
        pwfile.write(password + "\n")
        pwfile.flush()
        proc.run([f"{paths.BINDIR}/initdb", "-D", pgdata, "-U", superuser, f"--pwfile={pwfile.name}",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--data-checksums",
                  "--encoding=UTF8", "--locale=C.UTF-8"], timeout=300)


def remove_stale_locks(pgdata):
    """Lock files left by a killed container (postmaster.pid, the socket's .lock) name a PID that in
    the restarted container can belong to a live, unrelated process or thread, and PostgreSQL then
    refuses to start. Only one server runs per container and none runs now: remove them."""
    for path in [os.path.join(pgdata, "postmaster.pid"),
                 *glob.glob(os.path.join(paths.SOCKET_DIR, ".s.PGSQL.*.lock"))]:
        if os.path.exists(path):
            os.unlink(path)
            logger.info("Removed %s, left by the previous run of this container.", os.path.basename(path))


def local_connect(user, dbname, timeout=2):
    return db.connect(paths.SOCKET_DIR, 5432, user, dbname, timeout=timeout)


class Server:
    """A postgres child process whose output is logged line by line."""

    def __init__(self, pgdata, extra=(), label="postgres"):
        self.pgdata = pgdata
        self.extra = list(extra)
        self.label = label
        self.process = None

    def start(self, env):
        remove_stale_locks(self.pgdata)
        argv = [f"{paths.BINDIR}/postgres", "-D", self.pgdata, "-c", f"config_file={paths.POSTGRESQL_CONF}",
                *self.extra]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                        text=True, errors="replace", start_new_session=True)
        proc.forward_output(self.process, self.label)

    def running(self):
        return self.process is not None and self.process.poll() is None

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

    def signal(self, signum):
        if self.running():
            self.process.send_signal(signum)

    def stop(self, immediate=False, timeout=60):
        """Fast shutdown (SIGINT), then immediate (SIGQUIT) if it takes longer than timeout.

        immediate=True goes straight to SIGQUIT: every session ends at once, without waiting
        for walsenders to reach standbys that may be cut off (crash recovery follows at start).
        """
        if not self.running():
            return self.process.returncode if self.process else 0
        self.signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("PostgreSQL did not stop within %s s; sending an immediate shutdown.", timeout)
            self.signal(signal.SIGQUIT)
            return self.process.wait()


def run_single_user_recovery(pgdata, env):
    """Crash recovery in single-user mode, so pg_rewind finds a cleanly shut down target."""
    remove_stale_locks(pgdata)
    try:
        proc.run([f"{paths.BINDIR}/postgres", "--single", "-D", pgdata, "-c",
                  f"config_file={paths.POSTGRESQL_CONF}", "postgres"], input="", timeout=600, env=env)
    except CommandError as exc:
        raise FatalError(f"Crash recovery before pg_rewind failed: {exc}") from None


# Settings pgcluster sets itself; CONFIGS may not change them.
MANAGED_SETTINGS = frozenset({
    "data_directory", "config_file", "hba_file", "ident_file", "port", "unix_socket_directories",
    "primary_conninfo", "primary_slot_name", "listen_addresses",
})


def check_settings(settings):
    """Problems with CONFIGS as PostgreSQL itself judges them: [] when every name and value is valid."""
    managed = sorted(name for name in settings if name in MANAGED_SETTINGS)
    if managed:
        return [f"CONFIGS sets {', '.join(managed)}, which pgcluster manages; remove it from CONFIGS."]
    if not settings:
        return []
    with tempfile.TemporaryDirectory(prefix="configs-check.") as tmp:
        path = os.path.join(tmp, "check.conf")
        with open(path, "w", encoding="utf-8") as handle:
            for name, value in settings.items():
                handle.write(f"{name} = {render.pg_string(value)}\n")
        result = proc.run([f"{paths.BINDIR}/postgres", "-D", tmp, "-c", f"config_file={path}", "-C", "port"],
                          timeout=30, check=False)
    if result.returncode == 0:
        return []
    messages = []
    for line in result.stderr.splitlines():
        message = re.sub(r"^.*?\b(LOG|FATAL|ERROR|HINT):\s+", "", line).strip()
        message = re.sub(r' in file ".*?" line \d+', "", message)
        if ("parameter" in message or message.startswith("Available values")) and message not in messages:
            messages.append(message)
    detail = "; ".join(messages) or result.stderr.strip()
    return [f"CONFIGS is not valid: {detail}. Expected name:value pairs that PostgreSQL 15 accepts."]


def mark_fenced(pgdata):
    """Make the data directory start read-only (standby mode, no upstream) and remember it was a primary."""
    files.set_upstream(pgdata, None)
    for name in ("standby.signal", paths.FENCED_MARKER):
        open(os.path.join(pgdata, name), "w").close()


def unfence(pgdata):
    """Undo mark_fenced: the data directory starts as a primary again, on the same timeline."""
    for name in ("standby.signal", paths.FENCED_MARKER):
        path = os.path.join(pgdata, name)
        if os.path.exists(path):
            os.unlink(path)
