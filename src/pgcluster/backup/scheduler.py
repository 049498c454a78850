"""The backup container's loop: WAL streaming kept alive, maintenance, scheduled backups.

- `barman cron` (starts receive-wal, applies retention) every minute; runs never overlap.
- Every few seconds the WAL stream is checked: when receive-wal is not running, cron runs
  at once, so streaming resumes from a new primary within seconds of a failover. When the
  log says the primary's history no longer contains Barman's position (a failover lost
  WAL Barman already had), receive-wal is reset.
- A base backup at first start, on BACKUP_SCHEDULE, and after every failover (the
  primary's timeline changed), one at a time.
- Barman's log is forwarded line by line.
"""
import logging
import os
import signal
import threading
import time
from datetime import datetime, timezone

import psycopg2
from croniter import croniter

from .. import db
from ..errors import CommandError
from . import barman, metrics, paths

logger = logging.getLogger(__name__)

MAINTENANCE_EVERY = 60.0
STREAM_CHECK_EVERY = 5.0
METRICS_EVERY = 60.0  # `barman check` is not cheap
HISTORY_ERROR = "is not in this server's history"


class LogTail:
    """New lines of a growing file, from where the previous call stopped."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path) if os.path.exists(path) else 0

    def lines(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                handle.seek(self.offset)
                text = handle.read()
                self.offset = handle.tell()
        except OSError:
            return []
        return text.splitlines()


def next_run(schedule, after):
    """The next time (epoch seconds, UTC) the cron schedule fires after `after`."""
    return croniter(schedule, datetime.fromtimestamp(after, timezone.utc)).get_next(float)


class Scheduler:
    """barman: the barman command line (a fake in unit tests)."""

    def __init__(self, cfg, barman=barman):
        self.cfg = cfg
        self.barman = barman
        self.stopping = threading.Event()
        self.maintenance_lock = threading.Lock()
        self.backup_thread = None
        self.reset_needed = False
        self.timeline = None
        self.next_backup = next_run(cfg.schedule, time.time())
        self.log = LogTail(paths.LOG_FILE)

    # --- one step each ----------------------------------------------------------------------
    def maintenance(self, why):
        with self.maintenance_lock:
            if self.reset_needed:
                logger.warning("Resetting receive-wal: the primary's timeline history does not contain "
                               "Barman's position, so streaming restarts from the primary's current WAL.")
                self.barman.run("receive-wal", "--reset", self.cfg.server, check=False)
                self.reset_needed = False
            logger.debug("Running barman cron (%s).", why)
            self.barman.run("cron", timeout=300)

    def primary_state(self):
        """(timeline, synchronous) of the primary now: the timeline it writes on, and whether its
        commits wait for Barman's receiver. None when no primary answers."""
        try:
            conn = db.connect(",".join(self.cfg.hosts), ",".join(str(self.cfg.port) for _ in self.cfg.hosts),
                              self.cfg.postgres_user, self.cfg.postgres_db, self.cfg.postgres_password, timeout=3,
                              target_session_attrs="read-write", application_name="barman-scheduler")
        except psycopg2.Error:
            return None
        try:
            timeline, names = db.rows(conn, """
                SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int,
                       current_setting('synchronous_standby_names')""", timeout=5)[0]
            return timeline, "barman_receive_wal" in names
        except psycopg2.Error:
            return None
        finally:
            conn.close()

    def backup_due(self, timeline):
        """The reason a base backup is due now, or None."""
        if self.backup_thread and self.backup_thread.is_alive():
            return None
        previous, self.timeline = self.timeline, timeline
        if not metrics.done_backups(self.cfg):
            return "there is no backup yet"
        if previous is not None and timeline != previous:
            return f"the primary moved to timeline {timeline} (a failover), and backups must follow it"
        if time.time() >= self.next_backup:
            self.next_backup = next_run(self.cfg.schedule, time.time())
            return f"BACKUP_SCHEDULE '{self.cfg.schedule}' is due"
        return None

    def take_backup(self, reason):
        def work():
            started = time.monotonic()
            logger.info("Taking a base backup: %s.", reason)
            try:
                # A fresh server's WAL archive check fails until one segment has been archived.
                self.barman.run("switch-wal", "--force", "--archive", "--archive-timeout", "60", self.cfg.server,
                           timeout=120, check=False)
                self.barman.run("backup", "--wait", "--wait-timeout", "600", self.cfg.server, timeout=7200)
                logger.info("Base backup finished in %.1f s.", time.monotonic() - started)
            except CommandError as exc:
                logger.error("Base backup failed: %s", exc)
            metrics.refresh(self.cfg)

        self.backup_thread = threading.Thread(target=work, name="backup", daemon=True)
        self.backup_thread.start()

    def check_stream(self):
        """Keep receive-wal running and in the primary's synchronous mode; start due backups."""
        args = self.barman.receiver(self.cfg.server)
        primary = self.primary_state()
        if args is None or self.reset_needed:
            self.maintenance("the WAL stream is not running")
            return  # a backup waits for the stream: its WAL must reach the archive
        if primary and primary[1] != ("--synchronous" in args):
            logger.info("Restarting receive-wal so that it %s, as the primary's synchronous_standby_names asks.",
                        "acknowledges synchronously" if primary[1] else "streams asynchronously")
            self.barman.run("receive-wal", "--stop", self.cfg.server, check=False)
            self.maintenance("the synchronous mode changed")
        if primary:
            reason = self.backup_due(primary[0])
            if reason:
                self.take_backup(reason)

    def forward_log(self):
        for line in self.log.lines():
            if HISTORY_ERROR in line:
                self.reset_needed = True
            logger.info("barman: %s", line.split(" ", 2)[-1] if line[:4].isdigit() else line)

    # --- the loop ----------------------------------------------------------------------------
    def run(self):
        """The container's main process: metrics served, the loop until SIGTERM, receive-wal stopped."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        metrics.serve(self.cfg.metrics_port)
        logger.info("Backing up %s (%s) into %s; base backups on '%s' (UTC), %s days kept.", self.cfg.server,
                    ",".join(self.cfg.hosts), self.cfg.backup_dir, self.cfg.schedule, self.cfg.retention_days)
        self.loop()
        self.barman.run("receive-wal", "--stop", self.cfg.server, check=False)
        return 0

    def loop(self):
        next_maintenance = next_stream_check = next_metrics = 0.0
        while not self.stopping.wait(1.0):
            now = time.monotonic()
            self.forward_log()
            try:
                if now >= next_maintenance:
                    self.maintenance("every minute")
                    next_maintenance = now + MAINTENANCE_EVERY
                elif now >= next_stream_check:
                    next_stream_check = now + STREAM_CHECK_EVERY
                    self.check_stream()
                if now >= next_metrics:
                    metrics.refresh(self.cfg)
                    next_metrics = now + METRICS_EVERY
            except Exception as exc:  # one failing step is logged and retried, never fatal
                logger.warning("Backup scheduling step failed: %s", str(exc).strip())
