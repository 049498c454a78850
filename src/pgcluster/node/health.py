"""The node's health check (PostDock's is_major_master); returns (healthy, sentence)."""
from ..cluster.endpoint import Client
from ..cluster.quorum import majority_follows


def is_major_master(cfg, client=None):
    """Healthy when this node runs as a standby, or as a primary that a majority of its partners follows.

    Followers are counted through the whole tree (a cascaded standby counts
    for the primary at its root); an even split is won by the half holding the
    first listed partner, so a tie never fences both halves.
    """
    client = client or Client(cfg.status_port)
    me = client.ask("127.0.0.1", timeout=3)
    if not me.reachable:
        return False, f"{cfg.node_name}: the supervisor's status endpoint does not answer."
    if not me.running:
        return False, f"{cfg.node_name}: PostgreSQL is not running ({me.state.value}: {me.reason})."
    if me.fenced:
        return False, f"{cfg.node_name}: this node fenced itself: {me.reason}."
    if me.role != "primary":
        return True, f"{cfg.node_name}: standby of {me.upstream or 'an upstream that is not connected'}."
    answers = client.ask_all([h for h in cfg.voters if h != cfg.host], timeout=2)
    ok, count = majority_follows(me, answers, cfg.voters)
    if ok:
        return True, f"{cfg.node_name}: primary followed by {count} partners (itself included)."
    return False, f"{cfg.node_name}: primary followed by only {count} partners; it does not hold the majority."
