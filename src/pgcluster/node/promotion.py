"""May this standby be promoted? repmgrd's failover_validation_command asks.

check_promotion is pure: the candidate's own status, its partners' answers
and the settings in; (allowed, reason, seconds to wait first) out. The wait
makes promotion come after the old primary, if it is alive but cut off, has
fenced itself (it does so FENCE_TIMEOUT seconds after losing the majority).
"""
from .role import has_quorum
from .status import is_running_primary


def check_promotion(me, answers, voters, mode, fence_timeout):
    host = me["host"]
    old = me.get("primary") or ""
    former = answers.get(old)
    if is_running_primary(former):
        return False, f"{old} still answers as a running primary, so it has not failed; not promoting", 0.0
    visible = {host} | {h for h, a in answers.items() if a}
    seen = sum(1 for v in voters if v in visible)
    if not has_quorum(visible, voters):
        return False, (f"only {seen} of {len(voters)} partners answer; a standby in a minority is never "
                       f"promoted"), 0.0
    if mode == "strict":
        siblings = [v for v in voters if v not in (host, old)]
        missing = [v for v in siblings if not (answers.get(v) or {}).get("running")]
        if missing:
            return False, (f"strict mode: {', '.join(missing)} does not answer and may hold acknowledged commits "
                           f"this node lacks; waiting for it rather than losing them"), 0.0
        ahead = [v for v in siblings if int(answers[v].get("lsn") or 0) > int(me.get("lsn") or 0)]
        if ahead:
            return False, f"strict mode: {', '.join(ahead)} has received more WAL than this node", 0.0
    if not former:
        state = "does not answer"
    elif former.get("fenced"):
        state = "has fenced itself"
    else:
        state = "is not running as primary"
    last_seen = me.get("upstream_last_seen")
    last_seen = float(last_seen) if last_seen is not None and float(last_seen) >= 0 else 0.0
    wait = max(0.0, fence_timeout + 1.0 - last_seen)
    return True, (f"{old or 'the primary'} {state} and {seen} of {len(voters)} partners answer; promoting once "
                  f"{fence_timeout + 1.0:g} s have passed since it was last seen"), wait
