"""A node's part in a point-in-time recovery run by `pgcluster recover` in the backup container.

The backup container restores the data into the shared recovery volume and
writes the plan there (cluster/plan.py), naming the node that becomes the
primary. Every node that sees a plan it has not applied yet stops PostgreSQL
(the Restore duty raises Redecide). Then, before deciding its role again:

- the chosen node takes the restored data; it starts once no partner runs any
  more, replays WAL to the target and promotes;
- every other node holds, its data untouched, until the chosen node has
  taken the restored data (its applied mark) and runs as the promoted
  primary; only then does it empty its data directory and clone.
  A recovery that fails therefore leaves the other nodes' data as it was, and
  a newer plan replaces the one they wait on.
"""
import logging
import os
import shutil

from ..cluster import plan as plans
from ..cluster.plan import RESTORED_MARKER
from ..errors import Redecide
from ..paths import RECOVERY_DIR
from . import autoconf, datadir

logger = logging.getLogger(__name__)


def pending(cfg, directory=RECOVERY_DIR):
    """The plan this node has yet to apply, or None. A plan concerns only the cluster's nodes it
    names: a node outside them (one started on restored data for inspection) ignores it."""
    plan = plans.read(directory)
    if plan and cfg.host in plan.hosts and not plan.applied_by(cfg.host, directory):
        return plan
    return None


def apply(cfg, plan, client, stopping, directory=RECOVERY_DIR):
    """Take the restored data, or hold and then empty the data directory; PostgreSQL must be stopped.

    Returns False when it gave up waiting: a stop was asked, or another plan replaced this one.
    """
    if plan.primary != cfg.host:
        logger.info("Recovery %s: holding, data untouched, until %s runs as the restored primary.", plan.id,
                    plan.primary)
        # Its mark first: until it has taken the restored data, the chosen node may still run as the old primary.
        while not (plan.applied_by(plan.primary, directory)
                   and client.ask(plan.primary, timeout=2).serves_restored_data):
            if stopping.wait(2) or getattr(plans.read(directory), "id", None) != plan.id:
                return False
    datadir.clear(cfg.pgdata)
    if plan.primary == cfg.host:
        source = os.path.join(directory, plan.data)
        for name in os.listdir(source):
            path = os.path.join(source, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.copytree(path, os.path.join(cfg.pgdata, name), symlinks=True)
            else:
                shutil.copy2(path, os.path.join(cfg.pgdata, name), follow_symlinks=False)
        logger.info("Recovery %s: took the data restored to %s; this node becomes the primary.", plan.id,
                    plan.target)
    else:
        logger.info("Recovery %s: emptied the data directory; this node clones again from %s.", plan.id,
                    plan.primary)
    plan.mark_applied(cfg.host, directory)
    return True


def finish(pgdata):
    """After promotion: drop the recovery settings and the copied WAL, which a later standby must not use."""
    autoconf.drop_recovery_settings(pgdata)
    shutil.rmtree(os.path.join(pgdata, "barman_wal"), ignore_errors=True)
    datadir.mark(pgdata, RESTORED_MARKER, present=False)


class Restore:
    """Duty: stop serving as soon as a recovery plan for this cluster appears."""

    def __init__(self, node):
        self.node = node

    def reset(self):
        pass

    def tick(self, live):
        plan = pending(self.node.cfg)
        if plan:
            raise Redecide(f"recovery {plan.id} restores the cluster to {plan.target}", urgent=True)
