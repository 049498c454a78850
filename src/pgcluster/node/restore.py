"""A node's part in a point-in-time recovery run by `pgcluster recover` in the backup container.

The backup container restores the data into the shared recovery volume and
writes plan.json there, naming the node that becomes the primary. Every node
that sees a plan it has not applied yet stops PostgreSQL (a duty raises
Redecide). Then, before deciding its role again:

- the chosen node takes the restored data; it starts once no partner runs any
  more, replays WAL to the target and promotes;
- every other node holds, its data untouched, until the chosen node runs as
  the promoted primary; only then does it empty its data directory and clone.
  A recovery that fails therefore leaves the other nodes' data as it was, and
  a newer plan replaces the one they wait on.
"""
import json
import logging
import os
import shutil

from .. import render
from ..errors import Redecide
from . import status
from .postgres import clear_data_dir

logger = logging.getLogger(__name__)

RECOVERY_DIR = "/var/lib/pgcluster/recovery"
PLAN = "plan.json"
RESTORED_MARKER = "pgcluster.restored"  # in PGDATA: restored data not yet promoted (written by recover)
RECOVERY_SETTINGS = ("restore_command", "recovery_target", "recovery_target_time", "recovery_target_lsn",
                     "recovery_target_name", "recovery_target_xid", "recovery_target_timeline",
                     "recovery_target_action", "recovery_target_inclusive", "recovery_end_command")


def read_plan(directory=RECOVERY_DIR):
    try:
        with open(os.path.join(directory, PLAN), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def applied_marker(plan, host, directory=RECOVERY_DIR):
    return os.path.join(directory, plan["id"], f"applied-{host}")


def pending(cfg, directory=RECOVERY_DIR):
    """The plan this node has yet to apply, or None. A plan concerns only the cluster's nodes it
    names: a node outside them (one started on restored data for inspection) ignores it."""
    plan = read_plan(directory)
    if plan and cfg.host in plan["hosts"] and not os.path.exists(applied_marker(plan, cfg.host, directory)):
        return plan
    return None


def serves_restored_data(answer):
    """True when a status answer is from the restored data's primary, promoted and running."""
    return bool(answer and answer.get("running") and answer.get("role") == "primary"
                and not answer.get("restored") and answer.get("state") == "running")


def promoted(cfg, plan):
    """True once the plan's primary runs as the promoted primary of the restored data."""
    return serves_restored_data(status.ask(plan["primary"], cfg.status_port, timeout=2))


def apply(cfg, plan, stopping, directory=RECOVERY_DIR):
    """Take the restored data, or hold and then empty the data directory; PostgreSQL must be stopped.

    Returns False when it gave up waiting: a stop was asked, or another plan replaced this one.
    """
    if plan["primary"] != cfg.host:
        logger.info("Recovery %s: holding, data untouched, until %s runs as the restored primary.", plan["id"],
                    plan["primary"])
        while not promoted(cfg, plan):
            if stopping.wait(2) or (read_plan(directory) or {}).get("id") != plan["id"]:
                return False
    clear_data_dir(cfg.pgdata)
    if plan["primary"] == cfg.host:
        source = os.path.join(directory, plan["data"])
        for name in os.listdir(source):
            path = os.path.join(source, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.copytree(path, os.path.join(cfg.pgdata, name), symlinks=True)
            else:
                shutil.copy2(path, os.path.join(cfg.pgdata, name), follow_symlinks=False)
        logger.info("Recovery %s: took the data restored to %s; this node becomes the primary.", plan["id"],
                    plan["target"])
    else:
        logger.info("Recovery %s: emptied the data directory; this node clones again from %s.", plan["id"],
                    plan["primary"])
    open(applied_marker(plan, cfg.host, directory), "w").close()
    return True


def is_restored(pgdata):
    return os.path.exists(os.path.join(pgdata, RESTORED_MARKER))


def finish(pgdata):
    """After promotion: drop the recovery settings and the copied WAL, which a later standby must not use."""
    path = os.path.join(pgdata, "postgresql.auto.conf")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            kept = [line for line in handle if line.split("=", 1)[0].strip().lower() not in RECOVERY_SETTINGS]
        render.write_atomic(path, "".join(kept), 0o600)
    shutil.rmtree(os.path.join(pgdata, "barman_wal"), ignore_errors=True)
    os.unlink(os.path.join(pgdata, RESTORED_MARKER))


class Restore:
    """Duty: stop serving as soon as a recovery plan for this cluster appears."""

    def __init__(self, supervisor):
        self.sup = supervisor

    def reset(self):
        pass

    def tick(self, live):
        plan = pending(self.sup.cfg)
        if plan:
            raise Redecide(f"recovery {plan['id']} restores the cluster to {plan['target']}", urgent=True)
