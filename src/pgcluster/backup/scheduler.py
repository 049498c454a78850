"""The backup container's loop: WAL streaming kept alive, maintenance, scheduled backups.

- `barman cron` (starts receive-wal, applies retention) every minute; runs never overlap.
- Every few seconds the WAL stream is checked: when receive-wal is not running, cron runs
  at once, so streaming resumes from a new primary within seconds of a failover. When the
  log says the primary's history no longer contains Barman's position (a failover lost
  WAL Barman already had), or pg_receivewal cannot start where the new timeline began,
  receive-wal is reset.
- A base backup at first start, on BACKUP_SCHEDULE, and after every failover (the
  primary's timeline changed), one at a time.
- Barman's log is forwarded line by line.
"""
import fcntl
import logging
import os
import re
import signal
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone

from croniter import croniter

from .. import tls
from ..errors import CommandError
from . import barman, metrics, paths, primary, stream

logger = logging.getLogger(__name__)

MAINTENANCE_EVERY = 60.0
STREAM_CHECK_EVERY = 5.0
METRICS_EVERY = 60.0  # `barman check` is not cheap
# Lines of Barman's log after which receive-wal can only resume once it is reset onto the primary's timeline.
HISTORY_ERROR = "is not in this server's history"
# pg_receivewal asked for the old timeline exactly at the point where the primary's timeline began (the old
# primary's last record ended a segment, as a WAL switch does): the server answers with the next timeline
# at once instead of streaming, which pg_receivewal 17 takes for a failure with no message, on every retry.
AT_SWITCH_ERROR = re.compile(r'could not send replication command "START_REPLICATION": \s*$')
STREAM_RESETS = (
    (lambda line: HISTORY_ERROR in line, "the primary's timeline history does not contain Barman's position "
                                         "(a failover lost WAL Barman had)"),
    (AT_SWITCH_ERROR.search, "pg_receivewal cannot start on the old timeline exactly where the primary's "
                             "timeline began"),
)
# Barman 3.13 logs this on every poll of its streaming directory, several times a second.
LOG_NOISE = re.compile(r"No xlog segments found from streaming")


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


BACKUP_LOCK = ".pgcluster-backup.lock"  # in BACKUP_DIR: one base backup at a time, scheduled or asked for
BACKUP_TIMEOUT = 7200


@contextmanager
def one_backup_at_a_time(cfg, timeout=BACKUP_TIMEOUT):
    """Wait until no other base backup (the scheduler's or another `pgcluster backup`) runs, then hold the
    lock; Barman itself refuses a second backup of a server instead of waiting."""
    with open(os.path.join(cfg.backup_dir, BACKUP_LOCK), "a") as handle:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    logger.info("Waiting for the base backup in progress to finish before taking this one.")
                    waiting = True
                if time.monotonic() > deadline:
                    raise CommandError(f"Another base backup still runs after {timeout} s; none was taken.") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def take_backup(cfg, kind, barman=barman, wait=120):
    """Take a full or incremental base backup, after any other one has finished, and return it once Barman
    holds every WAL file it needs."""
    with one_backup_at_a_time(cfg):
        return _take_backup(cfg, kind, barman, wait)


def _take_backup(cfg, kind, barman, wait):
    """PostgreSQL 17 ends a streamed backup at a segment boundary, so the backup's last WAL file is the
    one just begun and `barman backup --wait` would wait until something else fills it. Instead the
    segment is closed (switch-wal), archived (archive-wal) and checked (check-backup) until Barman marks
    the backup done. `switch-wal --archive` would wait for Barman's own archiving, 10-15 s at a time.
    """
    server = cfg.server
    before = {b["id"] for b in metrics.backups(cfg)}
    if not before:  # a fresh server's WAL archive check fails until one segment has been archived
        barman.run("switch-wal", "--force", "--archive", "--archive-timeout", "60", server, timeout=120, check=False)
    barman.run("backup", *(["--incremental", "latest"] if kind == "incremental" else []), server,
               timeout=BACKUP_TIMEOUT)
    new = [b["id"] for b in metrics.backups(cfg) if b["id"] not in before]
    if not new:
        raise CommandError(f"barman backup {server} finished without a new backup.")
    barman.run("switch-wal", "--force", server, timeout=120)
    deadline = time.monotonic() + wait
    while True:
        barman.run("archive-wal", server, timeout=300, check=False)
        barman.run("check-backup", server, new[0], timeout=300, check=False)
        status = next((b["status"] for b in metrics.backups(cfg) if b["id"] == new[0]), "")
        if status == "DONE":
            return new[0]
        if status == "FAILED" or time.monotonic() > deadline:
            raise CommandError(f"Backup {new[0]} is {status or 'gone'}: its WAL did not reach the archive.")
        time.sleep(1)


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
        self.reset_because = None  # why receive-wal must be reset onto the primary's timeline
        self.timeline = None
        self.next_backup = next_run(cfg.schedule, time.time())
        self.next_incremental = next_run(cfg.incremental_schedule, time.time()) if cfg.incremental_schedule else None
        self.log = LogTail(paths.LOG_FILE)
        self.certificates = tls.Watch(tls.OFF)  # run() installs this container's

    # --- one step each ----------------------------------------------------------------------
    def maintenance(self, why):
        with self.maintenance_lock:
            if self.reset_because:
                logger.warning("Resetting receive-wal: %s, so streaming restarts on the primary's timeline.",
                               self.reset_because)
                stream.restart(self.cfg, self.barman)
                self.reset_because = None
                return
            logger.debug("Running barman cron (%s).", why)
            self.barman.run("cron", timeout=300)

    def primary_state(self):
        return primary.state(self.cfg)

    def backup_due(self, timeline):
        """(kind, reason) of the base backup due now (kind: full or incremental), or None."""
        if self.backup_thread and self.backup_thread.is_alive():
            return None
        previous, self.timeline = self.timeline, timeline
        done = metrics.done_backups(self.cfg)
        if not done:
            return "full", "there is no backup yet"
        if previous is not None and timeline != previous:
            return "full", f"the primary moved to timeline {timeline} (a failover), and backups must follow it"
        now = time.time()
        if now >= self.next_backup:
            self.next_backup = next_run(self.cfg.schedule, now)
            return "full", f"BACKUP_SCHEDULE '{self.cfg.schedule}' is due"
        if self.next_incremental is not None and now >= self.next_incremental:
            self.next_incremental = next_run(self.cfg.incremental_schedule, now)
            due = f"INCREMENTAL_BACKUP_SCHEDULE '{self.cfg.incremental_schedule}' is due"
            if done[-1]["timeline"] != timeline:  # PostgreSQL summarises WAL per timeline
                return "full", f"{due}, but the newest backup is on an older timeline than the primary's {timeline}"
            return "incremental", f"{due}"
        return None

    def take_backup(self, kind, reason):
        def work():
            started = time.monotonic()
            logger.info("Taking a%s base backup: %s.", "n incremental" if kind == "incremental" else " full", reason)
            try:
                backup_id = take_backup(self.cfg, kind, self.barman)
                logger.info("Base backup %s finished in %.1f s.", backup_id, time.monotonic() - started)
            except CommandError as exc:
                logger.error("Base backup failed: %s", exc)
            metrics.refresh(self.cfg)

        self.backup_thread = threading.Thread(target=work, name="backup", daemon=True)
        self.backup_thread.start()

    def check_stream(self):
        """Keep receive-wal running and in the primary's synchronous mode; start due backups."""
        args = self.barman.receiver(self.cfg.server)
        now = self.primary_state()
        if args is None or self.reset_because:
            self.maintenance("the WAL stream is not running")
            return  # a backup waits for the stream: its WAL must reach the archive
        if now and now.synchronous != ("--synchronous" in args):
            logger.info("Restarting receive-wal so that it %s, as the primary's synchronous_standby_names asks.",
                        "acknowledges synchronously" if now.synchronous else "streams asynchronously")
            self.barman.run("receive-wal", "--stop", self.cfg.server, check=False)
            self.maintenance("the synchronous mode changed")
        if now:
            due = self.backup_due(now.timeline)
            if due:
                self.take_backup(*due)

    def forward_log(self):
        for line in self.log.lines():
            for matches, why in STREAM_RESETS:
                if matches(line):
                    self.reset_because = why
            if not LOG_NOISE.search(line):
                logger.info("barman: %s", line.split(" ", 2)[-1] if line[:4].isdigit() else line)

    # --- the loop ----------------------------------------------------------------------------
    def run(self):
        """The container's main process: metrics served, the loop until SIGTERM, receive-wal stopped."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        self.certificates = tls.Watch(self.cfg.tls, who="backup")  # installed before the endpoint serves with them
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
            if self.certificates.changed():
                tls.reload()  # Barman's clients read the CA at each connection
                next_metrics = now  # the metric and the summary name the new certificate at once
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
