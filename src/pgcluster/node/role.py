"""Which role a node takes: a pure function of what it knows.

decide_role(facts) -> Decision(action, reason, source). The reason is a
sentence for the log; unit tests assert it. A node never starts as primary
unless it can show it is the only one: a majority of its partners answer and
none of them knows another primary or holds newer data. Partners' answers are
NodeStatus values (cluster/status.py); the primary among them is found by the
cluster's one rule (cluster/primary.py).
"""
from dataclasses import dataclass
from enum import Enum

from ..cluster.primary import find_primary
from ..cluster.quorum import has_quorum, tally
from ..cluster.status import NodeState


class Action(str, Enum):
    INIT_PRIMARY = "initialise a new cluster as primary"
    START_PRIMARY = "start as primary"
    CLONE = "clone a standby"
    START_STANDBY = "start as standby"
    REWIND = "rewind and rejoin as standby"
    FENCE = "fence this primary: restart PostgreSQL read-only, which ends every session"
    HOLD = "hold, stopped, for a switchover"
    REJOIN = "rejoin as standby after a clean stop"
    WAIT = "wait"


@dataclass(frozen=True)
class Local:
    """What the data directory says."""
    has_data: bool
    was_primary: bool = False
    timeline: int = 0
    lsn: int = 0
    restored: bool = False  # data restored from a backup, not yet promoted


@dataclass(frozen=True)
class Facts:
    host: str
    local: Local
    initial_primary: bool
    upstream: str
    voters: tuple
    peers: tuple  # NodeStatus of each partner and the upstream
    clean_over_rewind: bool = False


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    source: str = ""


def _running_primary(facts):
    """The running, unfenced primary the peers point at, or None."""
    return find_primary(facts.peers)


def _follow_target(facts, primary):
    """The configured upstream when it can serve (primary, or standby of the primary), else the primary."""
    for peer in facts.peers:
        if peer.host == facts.upstream and peer.running and peer.host != facts.host and (
            peer.role == "primary" or (peer.role == "standby" and peer.primary in ("", primary.host))
        ):
            return peer.host
    return primary.host


def _majority(facts):
    """(whether this node and the partners that answer are a majority, "N of M")."""
    visible = {facts.host} | {p.host for p in facts.peers if p.reachable}
    return has_quorum(visible, facts.voters), tally(visible, facts.voters)


def decide_role(facts):
    """Decide what this node does now; see the module docstring."""
    primary = _running_primary(facts)
    if not facts.local.has_data:
        return _empty(facts, primary)
    if not facts.local.was_primary:
        if primary:
            target = _follow_target(facts, primary)
            return Decision(Action.START_STANDBY,
                            f"the data directory holds a standby and {primary.host} is the primary; "
                            f"following {target}", target)
        target = facts.upstream or facts.host
        return Decision(Action.START_STANDBY,
                        f"the data directory holds a standby and no primary answers yet; "
                        f"starting as a standby of {target}, which it follows once it is up", target)
    return _former_primary(facts, primary)


def _empty(facts, primary):
    if primary:
        source = _follow_target(facts, primary)
        return Decision(Action.CLONE,
                        f"the data directory is empty and {primary.host} is the primary; cloning from {source}",
                        source)
    upstream = next((p for p in facts.peers if p.host == facts.upstream), None)
    if upstream and upstream.running and upstream.role == "standby" and not facts.initial_primary:
        return Decision(Action.CLONE,
                        f"the data directory is empty and upstream {upstream.host} runs as a standby; "
                        f"cloning from it", upstream.host)
    if not facts.initial_primary:
        state = "does not answer" if not upstream or not upstream.reachable else "is not running yet"
        return Decision(Action.WAIT,
                        f"the data directory is empty and upstream {facts.upstream} {state}; "
                        f"waiting for it before cloning")
    holders = [p.host for p in facts.peers if p.reachable and p.has_data]
    if holders:
        return Decision(Action.WAIT,
                        f"the data directory is empty but {', '.join(holders)} holds data; waiting for a "
                        f"primary to clone from rather than creating a second cluster")
    majority, count = _majority(facts)
    if not majority:
        return Decision(Action.WAIT,
                        f"the data directory is empty and only {count} partners answer; waiting for a "
                        f"majority before creating the cluster")
    return Decision(Action.INIT_PRIMARY,
                    f"the data directory is empty, this is the initial primary and none of the "
                    f"{count} partners that answer holds data")


def _restored(facts):
    busy = sorted(p.host for p in facts.peers if p.reachable and p.running)
    if busy:
        return Decision(Action.WAIT,
                        f"this node holds data restored from a backup; waiting for {', '.join(busy)} to stop "
                        f"for the recovery")
    majority, count = _majority(facts)
    if not majority:
        return Decision(Action.WAIT,
                        f"this node holds data restored from a backup but only {count} partners answer; "
                        f"waiting for a majority")
    return Decision(Action.START_PRIMARY,
                    "this node holds data restored from a backup and no partner runs; starting it as the "
                    "primary, which replays WAL up to the recovery target")


def _former_primary(facts, primary):
    if facts.local.restored:
        return _restored(facts)
    if primary and primary.host != facts.host:
        if facts.clean_over_rewind:
            return Decision(Action.CLONE,
                            f"this node was primary but {primary.host} is the primary now; re-cloning from it "
                            f"(CLEAN_OVER_REWIND)", primary.host)
        return Decision(Action.REWIND,
                        f"this node was primary but {primary.host} is the primary now; rejoining as its "
                        f"standby with pg_rewind", primary.host)
    promoting = sorted(p.host for p in facts.peers if p.state is NodeState.PROMOTING)
    if promoting:
        return Decision(Action.WAIT,
                        f"this node was primary but {', '.join(promoting)} is being promoted; waiting rather than "
                        f"starting a second primary")
    # A named primary that answers from an older timeline was never promoted after this node: it
    # defers to this node (the timeline rule below, seen from its side), so waiting for it would deadlock.
    older = {p.host for p in facts.peers if p.reachable and p.has_data and p.timeline < facts.local.timeline}
    others = sorted({p.primary for p in facts.peers
                     if p.running and p.role == "standby" and p.primary and p.primary != facts.host} - older)
    if others:
        return Decision(Action.WAIT,
                        f"this node was primary but its partners follow {', '.join(others)}, which does not "
                        f"answer as primary; waiting rather than starting a second primary")
    local = (facts.local.timeline, facts.local.lsn)
    for peer in facts.peers:
        if not peer.reachable or not peer.has_data:
            continue
        if peer.timeline > facts.local.timeline:
            return Decision(Action.WAIT,
                            f"{peer.host} is on timeline {peer.timeline}, newer than this node's "
                            f"{facts.local.timeline}, so another node was promoted; waiting for it to run "
                            f"as primary")
        if peer.was_primary and not peer.running and (
            peer.position > local
            or (peer.position == local and _listed_before(facts, peer.host, facts.host))
        ):
            return Decision(Action.WAIT,
                            f"{peer.host} was primary too and is at least as far ahead; waiting for it to "
                            f"start as primary")
    majority, count = _majority(facts)
    if not majority:
        return Decision(Action.WAIT,
                        f"this node was primary but only {count} partners answer; not starting as primary "
                        f"without a majority")
    return Decision(Action.START_PRIMARY,
                    f"this node was primary, {count} partners answer and none knows another primary")


def _listed_before(facts, a, b):
    order = list(facts.voters)
    return a in order and b in order and order.index(a) < order.index(b)
