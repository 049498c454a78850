"""The recovery handover between the backup container and the nodes, through the shared volume.

`pgcluster recover` restores data into RECOVERY_DIR/<id>/data and writes
plan.json naming the node that becomes the primary. Each node that applied
the plan leaves RECOVERY_DIR/<id>/applied-<host>. Restored data carries
RESTORED_MARKER in its data directory until it has been promoted.
"""
import json
import os
from dataclasses import asdict, dataclass

from .. import render
from ..paths import RECOVERY_DIR

PLAN = "plan.json"
RESTORED_MARKER = "pgcluster.restored"


@dataclass(frozen=True)
class Plan:
    id: str
    primary: str   # the node that takes the restored data
    hosts: tuple   # the cluster's nodes; others ignore the plan
    data: str      # the restored data directory, relative to the recovery volume
    target: str    # the recovery target, as a phrase for log lines

    def applied_marker(self, host, directory=RECOVERY_DIR):
        return os.path.join(directory, self.id, f"applied-{host}")

    def applied_by(self, host, directory=RECOVERY_DIR):
        return os.path.exists(self.applied_marker(host, directory))

    def mark_applied(self, host, directory=RECOVERY_DIR):
        open(self.applied_marker(host, directory), "w").close()


def write(plan, directory=RECOVERY_DIR):
    render.write_atomic(os.path.join(directory, PLAN), json.dumps(asdict(plan)), 0o644)


def read(directory=RECOVERY_DIR):
    """The current plan, or None when there is none (or it cannot be read)."""
    try:
        with open(os.path.join(directory, PLAN), encoding="utf-8") as handle:
            data = json.load(handle)
        return Plan(id=data["id"], primary=data["primary"], hosts=tuple(data["hosts"]), data=data["data"],
                    target=data["target"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
