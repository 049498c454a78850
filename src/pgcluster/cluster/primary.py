"""Who the primary is: one rule, applied by every image to the nodes' answers."""


def followers(candidate, statuses):
    """How many running standbys name candidate as their primary."""
    return sum(1 for s in statuses if s.is_standby and s.primary == candidate.host)


def find_primary(statuses):
    """The running, unfenced primary of these answers, or None when there is none or no clear one.

    Several nodes can answer as running primaries for a moment (a cut-off or
    frozen old primary before it fences itself, a new one just promoted). Then
    the one on the newer timeline wins: it was promoted later, by a majority
    that had lost the other, and the nodes themselves step down before it
    (fencing.rival_with_precedence). On a tie, the one that more running
    standbys name as their primary; still tied, none: nobody may act on a
    guess. Followers are no guide across timelines: right after a promotion the
    standbys' repmgr metadata still names the old primary, and a primary that
    thaws from a freeze finds them all naming it.
    """
    statuses = list(statuses)
    candidates = [s for s in statuses if s.is_running_primary]
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    rank = {c.host: (c.timeline, followers(c, statuses)) for c in candidates}
    best, second = sorted(candidates, key=lambda c: rank[c.host], reverse=True)[:2]
    return best if rank[best.host] != rank[second.host] else None


def lag_behind(standby, primary):
    """Bytes of WAL the standby has still to receive from the primary (as the answers show them), or None
    when they are on different timelines."""
    if primary.timeline != standby.timeline:
        return None
    return max(0, primary.lsn - standby.lsn)
