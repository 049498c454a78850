"""What a majority of the first-level nodes (the voters) is: one rule for every decision."""


def seen(visible, voters):
    """How many voters are visible."""
    return sum(1 for v in voters if v in visible)


def has_quorum(visible, voters):
    """True when the visible voters are a majority, or exactly half including the first listed.

    The tie rule lets exactly one half of an even split carry on.
    """
    count = seen(visible, voters)
    if 2 * count > len(voters):
        return True
    return 2 * count == len(voters) and bool(voters) and voters[0] in visible


def tally(visible, voters):
    """'N of M', for log lines and health checks."""
    return f"{seen(visible, voters)} of {len(voters)}"


def majority_follows(me, answers, voters):
    """(True when a majority of the voters follows the primary `me` (its NodeStatus), 'N of M'): it counts
    for itself; answers: {host: NodeStatus} of the others.

    A partner follows it when it runs and names it as its primary, or when it is a standby that streams
    from nobody, on no newer timeline, and whose primary runs as primary nowhere in these answers: a
    standby whose primary just failed, about to follow the node that was promoted (its metadata names the
    new primary only once it streams from it, seconds later). A standby that streams from another
    primary never counts.
    """
    host = me.host
    running_primaries = {host} | {h for h, a in answers.items() if a.is_running_primary}

    def follows(a):
        if not a.running:
            return False
        if a.primary == host:
            return True
        return a.role == "standby" and not a.streaming and a.primary not in running_primaries and \
            a.timeline <= me.timeline

    followers = {host} | {h for h, a in answers.items() if follows(a)}
    return has_quorum(followers, voters), tally(followers, voters)
