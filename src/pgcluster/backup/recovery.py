"""`pgcluster recover`: the whole cluster back to a point in time, in one command.

1. Barman restores the chosen backup into the shared recovery volume, with the
   WAL up to the target, while the cluster keeps running.
2. plan.json in that volume names the node that becomes the primary; every node
   stops, the chosen one takes the restored data, the others empty themselves
   (see pgcluster.node.restore).
3. The chosen node replays WAL to the target and is promoted; the others clone
   from it; pgpool attaches them once they stream.
4. Barman restarts its WAL stream on the new timeline and takes a new backup.

With --into DIR only step 1 runs, into DIR, for inspection.
"""
import json
import logging
import os
import shutil
import time
from datetime import datetime, timezone

from .. import render
from ..errors import FatalError
from ..node import facts, status
from ..node.postgres import format_lsn, parse_lsn
from ..node.restore import PLAN, RECOVERY_DIR, RESTORED_MARKER, applied_marker, serves_restored_data
from . import barman, metrics

logger = logging.getLogger(__name__)


def choose_backup(backups, target):
    """The backup to restore for a target, and the barman recover options that reach it.

    target: ("time", epoch) | ("lsn", "0/..") | ("name", restore point) | ("latest", None).
    A time or LSN needs the newest backup that ended before it (Barman refuses a target
    inside or before the backup); a restore point's position is unknown, so the oldest
    backup is used, which reaches any point in the recovery window. A target may lie on a
    later timeline than the backup (after a failover); the latest state needs no target.
    """
    backup, options = _choose(backups, target)
    if options:
        options += ["--target-tli", "latest", "--target-action", "promote"]
    return backup, options


def _choose(backups, target):
    done = [b for b in backups if b["status"] == "DONE"]
    if not done:
        raise FatalError("There is no completed backup to recover from.")
    kind, value = target
    if kind == "time":
        usable = [b for b in done if b["end"] and b["end"] < value]
        if not usable:
            raise FatalError(f"No backup ended before {_iso(value)}; the oldest ended at {_iso(done[0]['end'])}.")
        return usable[-1], ["--target-time", _iso(value)]
    if kind == "lsn":
        usable = [b for b in done if parse_lsn(b["end_lsn"]) <= parse_lsn(value)]
        if not usable:
            raise FatalError(f"No backup ended before LSN {value}; the oldest ended at {done[0]['end_lsn']}.")
        return usable[-1], ["--target-lsn", format_lsn(parse_lsn(value))]
    if kind == "name":
        return done[0], ["--target-name", value]
    return done[-1], []


def _iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def describe(target):
    kind, value = target
    return {"time": lambda: _iso(value), "lsn": lambda: f"LSN {value}",
            "name": lambda: f"restore point {value!r}", "latest": lambda: "the latest state"}[kind]()


def restore(cfg, target, destination):
    """barman recover into destination; returns the backup used."""
    if os.path.exists(destination) and os.listdir(destination):
        raise FatalError(f"{destination} is not empty; recover into a new directory.")
    # The commits just before now are in the segment still being streamed: close it and
    # wait until it is archived, so the restored WAL reaches the target.
    switched = barman.run("switch-wal", "--force", "--archive", "--archive-timeout", "60", cfg.server,
                          timeout=120, check=False)
    if switched.returncode != 0:
        logger.warning("Could not archive the current WAL segment (no primary?); recovering from the archive "
                       "as it is, which may end before the target.")
    backup, options = choose_backup(metrics.backups(cfg), target)
    logger.info("Restoring backup %s (ended %s) into %s, up to %s.", backup["id"], _iso(backup["end"]),
                destination, describe(target))
    started = time.monotonic()
    barman.run("recover", *options, cfg.server, backup["id"], destination, timeout=86400)
    # The marker tells a node starting on this directory that it holds restored data, to be
    # replayed and promoted (not a clone cut short, which would be removed).
    open(os.path.join(destination, RESTORED_MARKER), "w").close()
    logger.info("Restored in %.1f s.", time.monotonic() - started)
    return backup


def current_primary(cfg):
    answers = facts.ask_all(list(cfg.hosts), cfg.status_port, timeout=2)
    return next((h for h, a in answers.items() if status.is_running_primary(a)), None)


def recover_cluster(cfg, target, primary=None, timeout=3600, directory=RECOVERY_DIR):
    """Steps 1-4 of the module docstring; returns the new primary's host."""
    if not os.path.isdir(directory):
        raise FatalError(f"The recovery volume is not mounted at {directory}.")
    primary = primary or current_primary(cfg) or cfg.hosts[0]
    plan_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data = os.path.join(plan_id, "data")
    restore(cfg, target, os.path.join(directory, data))
    plan = {"id": plan_id, "primary": primary, "hosts": list(cfg.hosts), "data": data, "target": describe(target)}
    render.write_atomic(os.path.join(directory, PLAN), json.dumps(plan), 0o644)
    logger.info("Recovery %s: every node now stops; %s starts from the restored data, the others clone from it.",
                plan_id, primary)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = facts.ask_all([primary], cfg.status_port, timeout=2)[primary]
        taken = os.path.exists(applied_marker(plan, primary, directory))  # its answer is about the new data
        if taken and serves_restored_data(answer):
            break
        time.sleep(1)
    else:
        raise FatalError(f"{primary} did not come up as the primary within {timeout} s; see its log.")
    logger.info("Recovery %s: %s runs as the primary; restarting the WAL stream on its new timeline.",
                plan_id, primary)
    barman.run("receive-wal", "--stop", cfg.server, check=False)
    barman.run("receive-wal", "--reset", cfg.server, check=False)
    barman.run("cron", timeout=300)
    shutil.rmtree(os.path.join(directory, data), ignore_errors=True)
    others = [h for h in cfg.hosts if h != primary]
    while others and time.monotonic() < deadline:
        answers = facts.ask_all(others, cfg.status_port, timeout=2)
        if all(os.path.exists(applied_marker(plan, h, directory)) and a and a.get("running")
               and a.get("streaming") for h, a in answers.items()):
            logger.info("Recovery %s: %s stream from %s again.", plan_id, ", ".join(others), primary)
            break
        time.sleep(2)
    return primary
