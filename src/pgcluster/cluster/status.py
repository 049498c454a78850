"""What a node says about itself on its status endpoint: one typed answer, parsed once.

Every image reads a node through NodeStatus; an unreachable node is
NodeStatus.unknown(host), never None and never a raw dict.
"""
import json
from dataclasses import asdict, dataclass, fields
from enum import Enum


class NodeState(str, Enum):
    """Where the node's supervisor is; serialised as its value."""
    STARTING = "starting"
    WAITING = "waiting"            # deciding: no role can be taken safely yet
    INITIALISING = "initialising"  # creating the cluster
    CLONING = "cloning"
    REWINDING = "rewinding"
    HELD = "held"                  # holding its data for a recovery plan
    RUNNING = "running"
    PROMOTING = "promoting"        # a standby about to be promoted
    RESUMING = "resuming"          # a former primary about to start as primary again, looking first
    FENCED = "fenced"              # a former primary, read-only until it sees a majority
    STOPPING = "stopping"
    UNKNOWN = "unknown"            # no answer


@dataclass(frozen=True)
class NodeStatus:
    host: str
    reachable: bool = True
    node: str = ""
    node_id: int = 0
    priority: int = 0           # NODE_PRIORITY; 0: never promoted
    state: NodeState = NodeState.UNKNOWN
    reason: str = ""
    running: bool = False       # PostgreSQL serves (in the role below)
    role: str = "unknown"       # primary, standby or unknown
    primary: str = ""           # the primary this node knows: itself, or the one its metadata names
    upstream: str = ""          # the node it streams from (standby)
    streaming: bool = False
    fenced: bool = False
    has_data: bool = False
    was_primary: bool = False
    restored: bool = False      # holds restored data not yet promoted
    timeline: int = 0
    lsn: int = 0
    upstream_last_seen: float = -1.0  # seconds since repmgrd last reached the upstream; -1 unknown
    voters: tuple = ()
    members: tuple = ()         # every node registered in the repmgr metadata (a running node knows them)
    tls_expires: float = 0.0    # when the node's TLS certificate expires (Unix time); 0 when TLS is off

    @classmethod
    def unknown(cls, host):
        return cls(host=host, reachable=False)

    @classmethod
    def from_json(cls, host, text):
        """Parse an answer (JSON text, or the object it holds); the node's own host name wins over the one
        asked (127.0.0.1, an alias)."""
        data = json.loads(text) if isinstance(text, (str, bytes)) else text
        if not isinstance(data, dict):
            raise ValueError("a status answer is a JSON object")
        values = {}
        for f in fields(cls):
            if f.name in data and f.name != "reachable":
                values[f.name] = _coerce(f.name, data[f.name])
        values.setdefault("host", host)
        return cls(**values)

    def to_json(self):
        data = asdict(self)
        del data["reachable"]
        data["state"] = self.state.value
        data["voters"] = list(self.voters)
        data["members"] = list(self.members)
        return json.dumps(data)

    @property
    def position(self):
        return (self.timeline, self.lsn)

    @property
    def is_running_primary(self):
        return self.reachable and self.running and self.role == "primary" and not self.fenced

    @property
    def is_standby(self):
        return self.reachable and self.running and self.role == "standby"

    @property
    def claims_primary(self):
        """Running as primary, or about to: promoting, or resuming as primary."""
        return self.is_running_primary or self.state in (NodeState.PROMOTING, NodeState.RESUMING)

    def streams_from_primary(self, primary):
        """A running standby that streams and whose primary is `primary`."""
        return self.is_standby and self.streaming and not self.fenced and self.primary == primary

    @property
    def serves_restored_data(self):
        """The restored data's primary: promoted and running."""
        return (self.reachable and self.running and self.role == "primary" and not self.restored
                and self.state is NodeState.RUNNING)


_TYPES = {"node_id": int, "priority": int, "timeline": int, "lsn": int, "upstream_last_seen": float,
          "tls_expires": float}
_FLAGS = {"running", "streaming", "fenced", "has_data", "was_primary", "restored"}


def _coerce(name, value):
    if name == "state":
        return NodeState(value)
    if name in ("voters", "members"):
        return tuple(value or ())
    if name in _TYPES:
        return _TYPES[name](value if value is not None else (-1 if name == "upstream_last_seen" else 0))
    if name in _FLAGS:
        return bool(value)
    return "" if value is None else str(value)
