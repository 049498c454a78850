"""Attach backends that came back, detach fenced ones: pgpool follows the real primary.

pgpool marks a backend down when it stops answering and never takes it back by
itself. The watcher asks every node's status endpoint, and decides (a pure
function) which backends to attach: the running primary, and standbys that
stream from it. A node that follows anyone else is never attached, and a node
that fenced itself is detached, so no read or write reaches a stale or false
primary.
"""
import logging

from ..node import facts
from ..node.status import is_running_primary
from . import pcp

logger = logging.getLogger(__name__)


def current_primary(statuses):
    """The host every answer agrees is the running, unfenced primary, or None."""
    primaries = [host for host, s in statuses.items() if is_running_primary(s)]
    return primaries[0] if len(primaries) == 1 else None


def decide(nodes, statuses):
    """[(action, num, reason)] for pgpool's nodes {num: info} and the nodes' status answers {host: answer}."""
    primary = current_primary(statuses)
    actions = []
    for num, node in sorted(nodes.items()):
        answer = statuses.get(node["host"])
        if not answer:
            continue
        if node["status"] != "down" and answer.get("fenced"):
            actions.append(("detach", num, f"{node['host']} has fenced itself"))
        elif node["status"] == "down" and primary and answer.get("running") and not answer.get("fenced"):
            if node["host"] == primary:
                actions.append(("attach", num, f"{primary} is the running primary"))
            elif answer.get("role") == "standby" and answer.get("streaming") and answer.get("primary") == primary:
                actions.append(("attach", num, f"{node['host']} streams from the primary {primary}"))
    return actions


def tick(cfg):
    """One round: look, decide, act; each action logged as a sentence."""
    nodes = pcp.nodes(cfg)
    statuses = facts.ask_all(sorted({n["host"] for n in nodes.values()}), cfg.status_port, timeout=1.0)
    for action, num, reason in decide(nodes, statuses):
        logger.info("Backend %s (%s): %s, because %s.", num, nodes[num]["host"],
                    "attaching it" if action == "attach" else "detaching it", reason)
        (pcp.attach if action == "attach" else pcp.detach)(cfg, num)
