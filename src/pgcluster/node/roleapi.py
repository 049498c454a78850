"""The role API on the status port, for load balancers: Patroni's names, answered from this node's state.

GET /primary (/read-write, /master, /leader)  200 on the running, unfenced primary that the majority follows
GET /replica (/read-only)  200 on a running standby streaming from the current primary; ?lag=10MB turns
                           it 503 when it is further behind
GET /health                200 while PostgreSQL runs, in any role
GET /liveness              200 while the supervisor's partner watch runs its rounds
GET /readiness             200 when /primary or /replica would be

Every answer is 200 or 503 with a JSON body: the node, its role and state, and `why`, one sentence.
The checks read the partner watch's latest round (once a second), so an answer costs no request to the
partners; a round older than FENCE_TIMEOUT answers 503 on /primary, like the fence it foretells.
"""
import json
import re
import time
from dataclasses import dataclass

from ..cluster.primary import find_primary, lag_behind
from ..cluster.quorum import majority_follows
from ..cluster.status import NodeState, NodeStatus
from .fencing import rival_with_precedence

PRIMARY_PATHS = ("/primary", "/read-write", "/master", "/leader")
REPLICA_PATHS = ("/replica", "/read-only")
_UNITS = {"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}
_LAG = re.compile(r"\s*(\d+)\s*([a-zA-Z]*)\s*")


@dataclass(frozen=True)
class Round:
    """The partner watch's latest round as the checks need it."""
    age: float       # seconds since it was asked
    answers: dict    # {host: NodeStatus} of the other voters


def parse_lag(text):
    """Bytes from `?lag=`: a whole number of bytes, or with a unit (kB, MB, GB, TB; 1024-based)."""
    match = _LAG.fullmatch(text or "")
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"lag={text!r} is not a size: expected bytes, such as 1048576 or 10MB")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def primary_check(me: NodeStatus, partners: Round, voters, fence_timeout) -> tuple:
    """(ok, why) for /primary."""
    if not me.is_running_primary or me.state is not NodeState.RUNNING:
        return False, f"{me.node or me.host} is not a running, unfenced primary ({me.role}, {me.state.value})"
    if partners.age > fence_timeout:
        return False, f"{me.node} has not heard from its partners for {partners.age:.1f} s"
    rival = rival_with_precedence(me.host, me.timeline, partners.answers, voters)
    if rival:
        return False, f"{rival} runs as primary on a newer timeline"
    ok, count = majority_follows(me, partners.answers, voters)
    if not ok:
        return False, f"{me.node} is followed by only {count} partners; it does not hold the majority"
    return True, f"{me.node} is the primary, followed by {count} partners (itself included)"


def replica_check(me: NodeStatus, partners: Round, max_lag=None) -> tuple:
    """(ok, why) for /replica; max_lag in bytes, or None for any lag."""
    primary = find_primary([me, *partners.answers.values()])
    if primary is None:
        return False, "no primary is known to this node"
    if me.state is not NodeState.RUNNING or not me.streams_from_primary(primary.host):
        return False, f"{me.node or me.host} does not stream from the primary {primary.host}"
    lag = lag_behind(me, primary)
    if max_lag is not None and (lag is None or lag > max_lag):
        return False, f"{me.node} is {'on another timeline than' if lag is None else f'{lag} bytes behind'} " \
                      f"the primary {primary.host} (lag at most {max_lag} bytes asked)"
    return True, f"{me.node} streams from the primary {primary.host}, {lag} bytes behind"


def answer(path, query, me: NodeStatus, partners: Round, voters, fence_timeout, liveness_timeout):
    """(status, JSON text) for one of the role API's paths."""
    if path in PRIMARY_PATHS:
        ok, why = primary_check(me, partners, voters, fence_timeout)
    elif path in REPLICA_PATHS:
        try:
            max_lag = parse_lag(query["lag"]) if "lag" in query else None
        except ValueError as exc:
            return 400, json.dumps({"error": str(exc)})
        ok, why = replica_check(me, partners, max_lag)
    elif path == "/health":
        ok = me.running
        why = f"PostgreSQL {'runs' if ok else 'does not run'} on {me.node or me.host} ({me.state.value})"
    elif path == "/liveness":
        ok = partners.age <= liveness_timeout
        why = f"the partner watch's last round was {partners.age:.1f} s ago"
    elif path == "/readiness":
        ok, why = primary_check(me, partners, voters, fence_timeout)
        if not ok:
            ok, why = replica_check(me, partners)
    else:
        raise KeyError(path)
    body = {"node": me.node, "host": me.host, "role": me.role, "state": me.state.value, "timeline": me.timeline,
            "fenced": me.fenced, "why": why}
    return (200 if ok else 503), json.dumps(body)


PATHS = (*PRIMARY_PATHS, *REPLICA_PATHS, "/health", "/liveness", "/readiness")


def routes(status, latest_round, voters, fence_timeout, liveness_timeout):
    """httpserve GET routes: status() is this node's NodeStatus, latest_round() the watch's (asked_at, answers)."""

    def route(path):
        def body(query):
            asked_at, answers = latest_round()
            partners = Round(age=time.monotonic() - asked_at if asked_at else float("inf"), answers=answers)
            return answer(path, query, status(), partners, voters, fence_timeout, liveness_timeout)
        return "application/json", body

    return {path: route(path) for path in PATHS}
