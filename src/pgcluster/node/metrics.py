"""pgcluster's own gauges of a node on the status port's /metrics: its role and what it decided.

PostgreSQL's statistics come from prometheus-postgres-exporter beside it (exporter.py); these are the
facts only the supervisor knows. render() is pure; Record counts what the supervisor did.
"""
import time
from dataclasses import dataclass, field

from .. import prometheus
from ..cluster.primary import find_primary, lag_behind
from ..cluster.status import NodeStatus

METRICS = (
    ("pgcluster_node_info", "gauge", "1, with the node's name, host, state and upstream as labels."),
    ("pgcluster_node_role", "gauge", "1 for the role this node serves in: primary (running, unfenced), standby, "
                                     "or none while PostgreSQL does not serve."),
    ("pgcluster_node_fenced", "gauge", "1 while this node is a fenced former primary (read-only)."),
    ("pgcluster_node_postgres_running", "gauge", "1 while PostgreSQL serves in the node's role."),
    ("pgcluster_node_streaming", "gauge", "1 while this standby streams from its upstream."),
    ("pgcluster_node_timeline", "gauge", "The PostgreSQL timeline of this node."),
    ("pgcluster_node_wal_position_bytes", "gauge",
     "WAL position as a byte offset: written on a primary, received or replayed on a standby."),
    ("pgcluster_node_replication_lag_bytes", "gauge",
     "WAL this standby has still to receive from the primary, as of the last round of asks."),
    ("pgcluster_node_replication_lag_seconds", "gauge",
     "Age of the newest commit this standby replayed while more WAL waits replay; 0 when it is replayed."),
    ("pgcluster_node_partners", "gauge", "First-level nodes (voters) of the cluster, this one included."),
    ("pgcluster_node_partners_seen", "gauge", "Voters this node reached in its last round of asks, itself included."),
    ("pgcluster_node_role_decision_age_seconds", "gauge", "Seconds since this node last took a role or was promoted."),
    ("pgcluster_node_data_volume_size_bytes", "gauge", "Size of the volume holding the data directory."),
    ("pgcluster_node_data_volume_free_bytes", "gauge", "Free space on the volume holding the data directory."),
    ("pgcluster_node_failovers_total", "counter", "Promotions of this node after its primary failed."),
    ("pgcluster_node_switchovers_total", "counter", "Promotions of this node in a planned switchover."),
    ("pgcluster_node_fences_total", "counter", "Times this node fenced itself."),
)


@dataclass
class Record:
    """What this node's supervisor did since it started (Prometheus sees a restart as a counter reset)."""
    decided_at: float = field(default_factory=time.monotonic)
    failovers: int = 0
    switchovers: int = 0
    fences: int = 0

    def took_role(self, fenced=False):
        self.decided_at = time.monotonic()
        self.fences += fenced

    def promoted(self, switchover):
        self.decided_at = time.monotonic()
        if switchover:
            self.switchovers += 1
        else:
            self.failovers += 1


def render(me: NodeStatus, replay_delay, answers, voters, record: Record, disk=None, now=None):
    """The node's metrics text. answers: the last round's {host: NodeStatus} of the other voters; disk: the
    data volume's (size, free) in bytes."""
    now = time.monotonic() if now is None else now
    role = "primary" if me.is_running_primary else "standby" if me.is_standby else "none"
    primary = find_primary([me, *answers.values()])
    lag = 0 if role == "primary" else lag_behind(me, primary) if me.is_standby and primary else None
    node = {"node": me.node}
    values = {
        "pgcluster_node_info": ({**node, "host": me.host, "state": me.state.value, "upstream": me.upstream}, 1),
        "pgcluster_node_fenced": me.fenced, "pgcluster_node_postgres_running": me.running,
        "pgcluster_node_streaming": me.streaming if me.is_standby else None,
        "pgcluster_node_timeline": me.timeline or None, "pgcluster_node_wal_position_bytes": me.lsn or None,
        "pgcluster_node_replication_lag_bytes": lag,
        "pgcluster_node_replication_lag_seconds": replay_delay if me.is_standby else 0 if role == "primary" else None,
        "pgcluster_node_partners": len(voters),
        "pgcluster_node_partners_seen": sum(1 for v in voters if v == me.host or
                                            (v in answers and answers[v].reachable)),
        "pgcluster_node_role_decision_age_seconds": round(now - record.decided_at, 3),
        "pgcluster_node_data_volume_size_bytes": disk[0] if disk else None,
        "pgcluster_node_data_volume_free_bytes": disk[1] if disk else None,
        "pgcluster_node_failovers_total": record.failovers, "pgcluster_node_switchovers_total": record.switchovers,
        "pgcluster_node_fences_total": record.fences,
    }
    samples = [("pgcluster_node_role", {**node, "role": r}, int(r == role)) for r in ("primary", "standby", "none")]
    for name, value in values.items():
        labels, value = value if isinstance(value, tuple) else (node, value)
        samples.append((name, labels, value))
    return prometheus.render(METRICS, samples)
