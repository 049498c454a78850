"""The checks behind healthchecks/ (PostDock's names and meanings); each returns (healthy, sentence)."""
from ..errors import PgclusterError
from ..node import facts, status
from ..node.role import has_quorum


def is_major_master(cfg):
    """Healthy when this node runs as a standby, or as a primary that a majority of its partners follows.

    Followers are counted through the whole tree (a cascaded standby counts
    for the primary at its root); an even split is won by the half holding the
    first listed partner, so a tie never fences both halves.
    """
    me = status.ask("127.0.0.1", cfg.status_port, timeout=3)
    if me is None:
        return False, f"{cfg.node_name}: the supervisor's status endpoint does not answer."
    if not me.get("running"):
        return False, f"{cfg.node_name}: PostgreSQL is not running ({me.get('state')}: {me.get('reason')})."
    if me.get("fenced"):
        return False, f"{cfg.node_name}: this node fenced itself: {me.get('reason')}."
    if me.get("role") != "primary":
        return True, f"{cfg.node_name}: standby of {me.get('upstream') or 'an upstream that is not connected'}."
    others = [h for h in cfg.voters if h != cfg.host]
    answers = facts.ask_all(others, cfg.status_port, timeout=2)
    followers = {cfg.host} | {h for h, a in answers.items()
                              if a and a.get("running") and a.get("primary") == cfg.host}
    count = f"{len(followers)} of {len(cfg.voters)}"
    if has_quorum(followers, cfg.voters):
        return True, f"{cfg.node_name}: primary followed by {count} partners (itself included)."
    return False, f"{cfg.node_name}: primary followed by only {count} partners; it does not hold the majority."


def _pgpool_nodes(cfg):
    """pgpool's view of its backends through PCP, which answers even while SQL logins wait for a primary."""
    from ..pgpool import pcp

    try:
        return pcp.nodes(cfg), None
    except PgclusterError as exc:
        return None, f"pgpool does not answer on its control port: {exc}"


def has_write_node(cfg):
    """Healthy when pgpool has a primary attached, so writes have somewhere to go."""
    nodes, problem = _pgpool_nodes(cfg)
    if problem:
        return False, problem
    primaries = [n["host"] for n in nodes.values() if n["role"] == "primary" and n["status"] == "up"]
    if primaries:
        return True, f"pgpool sends writes to {primaries[0]}."
    return False, "pgpool has no primary attached; writes would fail."


def has_enough_backends(cfg, count):
    """Healthy when at least count backends are up in pgpool."""
    nodes, problem = _pgpool_nodes(cfg)
    if problem:
        return False, problem
    up = [n["host"] for n in nodes.values() if n["status"] == "up"]
    verdict = len(up) >= count
    return verdict, f"{len(up)} of {len(nodes)} backends are up ({', '.join(up) or 'none'}); {count} required."


def barman_check(cfg):
    """Healthy when every `barman check` item passes; the sentence names the ones that fail."""
    from ..backup import barman

    result = barman.run("check", "--nagios", cfg.server, check=False, timeout=60, quiet=False)
    return result.returncode == 0, (result.stdout.strip() or result.stderr.strip())
