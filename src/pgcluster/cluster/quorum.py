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
