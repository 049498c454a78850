"""May this standby be promoted? repmgrd's failover_validation_command asks.

check_promotion is pure: the candidate's own status, its partners' answers
and the settings in; (allowed, reason, seconds to wait first) out. The wait
makes promotion come after the old primary, if it is alive but cut off, has
fenced itself (it does so FENCE_TIMEOUT seconds after losing the majority).
Only the standby first in repmgr's election order (the most advanced, then
the higher priority, then the lower node id) may be promoted, so repmgrd and
pgcluster's own takeover (takeover.py) can never promote two different nodes.
"""
import os
import time

from ..cluster.endpoint import Client
from ..cluster.quorum import has_quorum, tally
from ..cluster.status import NodeState
from . import paths

ANNOUNCED_FOR = 30.0  # seconds a standby's announced promotion shows as PROMOTING, unless it is primary sooner
LAST_LOOK = 1.0  # seconds the last look waits for the old primary, as long as a partner round's ask (a frozen
# one never answers, and every promotion after a freeze waits this long)


def first_in_line(me, answers):
    """The host repmgr's election picks among this node and the answering standbys that may be promoted."""
    standbys = [me] + [a for a in answers.values() if a.is_standby and not a.fenced and a.priority > 0]
    return max(standbys, key=lambda s: (s.lsn, s.priority, -s.node_id)).host


def check_promotion(me, answers, voters, mode, fence_timeout):
    host = me.host
    old = me.primary
    former = answers.get(old)
    if former is not None and former.is_running_primary:
        return False, f"{old} still answers as a running primary, so it has not failed; not promoting", 0.0
    if former is not None and former.state is NodeState.RESUMING:
        return False, f"{old} is resuming as primary; not promoting", 0.0
    promoting = sorted(h for h, a in answers.items() if h != host and a.state is NodeState.PROMOTING)
    if promoting:
        return False, f"{', '.join(promoting)} is being promoted; not promoting a second node", 0.0
    visible = {host} | {h for h, a in answers.items() if a.reachable}
    if not has_quorum(visible, voters):
        return False, (f"only {tally(visible, voters)} partners answer; a standby in a minority is never "
                       f"promoted"), 0.0
    if mode == "strict":
        siblings = [v for v in voters if v not in (host, old)]
        missing = [v for v in siblings if v not in answers or not answers[v].running]
        if missing:
            return False, (f"strict mode: {', '.join(missing)} does not answer and may hold acknowledged commits "
                           f"this node lacks; waiting for it rather than losing them"), 0.0
        ahead = [v for v in siblings if answers[v].lsn > me.lsn]
        if ahead:
            return False, f"strict mode: {', '.join(ahead)} has received more WAL than this node", 0.0
    first = first_in_line(me, answers)
    if first != host:
        return False, f"{first} comes first in the election order (WAL received, priority, node id)", 0.0
    if former is None or not former.reachable:
        state = "does not answer"
    elif former.fenced:
        state = "has fenced itself"
    else:
        state = "is not running as primary"
    last_seen = max(0.0, me.upstream_last_seen)
    wait = max(0.0, fence_timeout + 1.0 - last_seen)
    return True, (f"{old or 'the primary'} {state} and {tally(visible, voters)} partners answer; promoting once "
                  f"{fence_timeout + 1.0:g} s have passed since it was last seen"), wait


def announce(marker=None):
    """Show this standby as PROMOTING on its status endpoint, before it promotes: a former primary deciding to
    resume looks for that (see the supervisor's RESUMING wait), so the two never both go ahead."""
    with open(marker or paths.PROMOTING_MARKER, "w") as handle:
        handle.write(str(time.time()))


def withdraw(marker=None):
    """Take back an announced promotion that does not go ahead."""
    try:
        os.unlink(marker or paths.PROMOTING_MARKER)
    except FileNotFoundError:
        pass


def announced(marker=None):
    """Whether a promotion was announced within ANNOUNCED_FOR seconds."""
    try:
        return time.time() - os.path.getmtime(marker or paths.PROMOTING_MARKER) < ANNOUNCED_FOR
    except OSError:
        return False


def last_look(client, old):
    """None when the old primary neither runs as primary again nor is resuming, else the refusal."""
    if not old:
        return None
    answer = client.ask(old, timeout=LAST_LOOK)
    if answer.is_running_primary:
        return f"{old} answers as a running primary again; not promoting"
    if answer.state is NodeState.RESUMING:
        return f"{old} is resuming as primary; not promoting"
    return None


def validate(host, voters, port, fence_timeout, mode, client=None, sleep=time.sleep):
    """(allowed, reason) for this node now: check_promotion, its wait, the announcement, a last look at the old
    primary."""
    client = client or Client(port)
    me = client.ask("127.0.0.1", timeout=3)
    if not me.reachable:
        return False, "this node's own status endpoint does not answer"
    answers = client.ask_all([v for v in voters if v != host])
    allowed, reason, wait = check_promotion(me, answers, voters, mode, fence_timeout)
    if not allowed:
        return allowed, reason
    if wait > 0:
        sleep(wait)
    announce()
    refused = last_look(client, me.primary)
    if refused:
        withdraw()
        return False, refused
    return True, reason
