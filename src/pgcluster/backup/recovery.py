"""`pgcluster recover`: the whole cluster back to a point in time, in one command.

1. Barman restores the chosen backup into the shared recovery volume, with the
   WAL up to the target, while the cluster keeps running.
2. The plan in that volume (cluster/plan.py) names the node that becomes the
   primary; every node stops, the chosen one takes the restored data, the
   others empty themselves (see pgcluster.node.restore).
3. The chosen node replays WAL to the target and is promoted; the others clone
   from it; pgpool attaches them once they stream.
4. Barman restarts its WAL stream on the new timeline and takes a new backup.

With --into DIR only step 1 runs, into DIR, for inspection.
"""
import logging
import os
import shutil
import time
from datetime import datetime, timezone

from ..cluster import plan as plans
from ..cluster.endpoint import ask_all
from ..cluster.primary import find_primary
from ..errors import FatalError
from . import barman, metrics, stream
from .primary import state as primary_now
from .paths import RECOVERY_DIR
from .targets import choose_backup, describe, iso, parse_history, walfile

ARCHIVE_WAIT = 60.0  # seconds --latest waits for Barman's archive to reach the primary's position
BACKUP_WAIT = 300.0  # seconds --latest waits for a backup that reaches the primary's timeline
# Directories PostgreSQL needs in a data directory, even empty. Barman 3.13.3 leaves the empty pg_wal and
# pg_tblspc out when it restores an incremental backup combined by pg_combinebackup.
DATA_DIRS = ("pg_wal", "pg_tblspc", "pg_replslot", "pg_notify", "pg_serial", "pg_snapshots", "pg_stat",
             "pg_stat_tmp", "pg_subtrans", "pg_twophase", "pg_commit_ts", "pg_dynshmem", "pg_xact",
             "pg_logical/snapshots", "pg_logical/mappings", "pg_multixact/members", "pg_multixact/offsets")

logger = logging.getLogger(__name__)


def latest(cfg):
    """The latest state as a target: the primary's position on its timeline now, once Barman's archive holds
    the WAL file it is in; FatalError when the archive does not catch up within ARCHIVE_WAIT. Without a
    primary: the end of the archive's newest timeline."""
    now = primary_now(cfg)
    if now is None:
        logger.warning("No primary answers: restoring everything the archive holds, up to the end of its newest "
                       "timeline.")
        return ("latest", None), None
    switch_wal(cfg)  # closes the file the primary's position is in
    needed = walfile(now.timeline, now.lsn)
    deadline = time.monotonic() + ARCHIVE_WAIT
    while needed not in {name for name, _ in metrics.archived_wals(cfg)}:
        if time.monotonic() > deadline:
            raise FatalError(f"--latest: Barman's archive does not hold the primary's WAL up to LSN {now.lsn} on "
                             f"timeline {now.timeline} (file {needed}) after {ARCHIVE_WAIT:.0f} s: the WAL stream "
                             f"is behind the primary; try again once `barman check` passes, or give --target-lsn.")
        time.sleep(2)
    history = os.path.join(cfg.backup_dir, cfg.server, "wals", f"{now.timeline:08X}.history")
    try:
        with open(history, encoding="utf-8") as handle:
            ancestry = parse_history(handle.read())
    except OSError:
        ancestry = {}
    return ("latest", (now.timeline, now.lsn)), ancestry


def switch_wal(cfg):
    """Close the WAL segment being streamed and wait until it is archived: the commits just before now are
    in it."""
    switched = barman.run("switch-wal", "--force", "--archive", "--archive-timeout", "60", cfg.server,
                          timeout=120, check=False)
    if switched.returncode != 0:
        logger.warning("Could not archive the current WAL segment (no primary?); recovering from the archive "
                       "as it is, which may end before the target.")


def backup_for(cfg, target, history):
    """choose_backup over Barman's backups. For the latest state it waits up to BACKUP_WAIT for one that reaches
    the primary's timeline: right after a timeline change the only backups may hold WAL of the history the
    cluster left, and the backup the scheduler takes on the new timeline is not done yet."""
    deadline, said = time.monotonic() + BACKUP_WAIT, False
    while True:
        try:
            return choose_backup(metrics.backups(cfg), target, history)
        except FatalError as exc:
            if target[0] != "latest" or not target[1] or time.monotonic() > deadline:
                raise
            if not said:
                logger.info("%s Waiting up to %.0f s for the backup the scheduler takes on timeline %s.",
                            exc, BACKUP_WAIT, target[1][0])
                said = True
        time.sleep(5)


def restore(cfg, target, destination):
    """barman recover into destination; returns the backup used and the target reached."""
    if os.path.exists(destination) and os.listdir(destination):
        raise FatalError(f"{destination} is not empty; recover into a new directory.")
    history = None
    if target[0] == "latest":
        target, history = latest(cfg)
    else:
        switch_wal(cfg)
    backup, options = backup_for(cfg, target, history)
    logger.info("Restoring backup %s (ended %s) into %s, up to %s.", backup["id"], iso(backup["end"]),
                destination, describe(target))
    started = time.monotonic()
    barman.run("recover", *options, cfg.server, backup["id"], destination, timeout=86400)
    for name in DATA_DIRS:
        os.makedirs(os.path.join(destination, name), mode=0o700, exist_ok=True)
    # The marker tells a node starting on this directory that it holds restored data, to be
    # replayed and promoted (not a clone cut short, which would be removed).
    open(os.path.join(destination, plans.RESTORED_MARKER), "w").close()
    logger.info("Restored in %.1f s.", time.monotonic() - started)
    return backup, target


def current_primary(cfg):
    found = find_primary(ask_all(list(cfg.hosts), cfg.status_port, timeout=2).values())
    return found.host if found else None


def recover_cluster(cfg, target, primary=None, timeout=3600, directory=RECOVERY_DIR):
    """Steps 1-4 of the module docstring; returns the new primary's host."""
    if not os.path.isdir(directory):
        raise FatalError(f"The recovery volume is not mounted at {directory}.")
    primary = primary or current_primary(cfg) or cfg.hosts[0]
    plan_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data = os.path.join(plan_id, "data")
    _, target = restore(cfg, target, os.path.join(directory, data))
    plan = plans.Plan(id=plan_id, primary=primary, hosts=tuple(cfg.hosts), data=data, target=describe(target))
    plans.write(plan, directory)
    logger.info("Recovery %s: every node now stops; %s starts from the restored data, the others clone from it.",
                plan_id, primary)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = ask_all([primary], cfg.status_port, timeout=2)[primary]
        # Before its marker, an answer is about the old data.
        if plan.applied_by(primary, directory) and answer.serves_restored_data:
            break
        time.sleep(1)
    else:
        raise FatalError(f"{primary} did not come up as the primary within {timeout} s; see its log.")
    logger.info("Recovery %s: %s runs as the primary; restarting the WAL stream on its new timeline.",
                plan_id, primary)
    stream.restart(cfg, barman)
    shutil.rmtree(os.path.join(directory, data), ignore_errors=True)
    others = [h for h in cfg.hosts if h != primary]
    while others and time.monotonic() < deadline:
        answers = ask_all(others, cfg.status_port, timeout=2)
        if all(plan.applied_by(h, directory) and a.running and a.streaming for h, a in answers.items()):
            logger.info("Recovery %s: %s stream from %s again.", plan_id, ", ".join(others), primary)
            break
        time.sleep(2)
    return primary
