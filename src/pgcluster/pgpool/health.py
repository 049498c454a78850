"""The router's health checks (PostDock's names and meanings); each returns (healthy, sentence).

Both read pgpool's view through PCP, which answers even while SQL logins wait for a primary.
"""
from ..errors import PgclusterError
from . import pcp


def _nodes(cfg):
    try:
        return pcp.nodes(cfg), None
    except PgclusterError as exc:
        return None, f"pgpool does not answer on its control port: {exc}"


def has_write_node(cfg):
    """Healthy when pgpool has a primary attached, so writes have somewhere to go."""
    nodes, problem = _nodes(cfg)
    if problem:
        return False, problem
    return write_node(nodes)


def write_node(nodes):
    """has_write_node's verdict on pgpool's nodes {num: PoolNode}."""
    primaries = [n.host for n in nodes.values() if n.role == "primary" and n.status == "up"]
    if primaries:
        return True, f"pgpool sends writes to {primaries[0]}."
    return False, "pgpool has no primary attached; writes would fail."


def has_enough_backends(cfg, count):
    """Healthy when at least count backends are up in pgpool."""
    nodes, problem = _nodes(cfg)
    if problem:
        return False, problem
    up = [n.host for n in nodes.values() if n.status == "up"]
    verdict = len(up) >= count
    return verdict, f"{len(up)} of {len(nodes)} backends are up ({', '.join(up) or 'none'}); {count} required."
