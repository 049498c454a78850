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


def majority_follows(host, answers, voters):
    """(True when a majority of the voters runs with host as its primary, 'N of M'): host counts for itself;
    answers: {host: NodeStatus} of the others."""
    followers = {host} | {h for h, a in answers.items() if a.running and a.primary == host}
    return has_quorum(followers, voters), tally(followers, voters)
