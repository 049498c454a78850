"""`pgcluster status` in the router: each backend as pgpool sees it and as the node reports itself."""
from ..cluster.endpoint import ask_all
from . import pcp


def says(answer):
    """What a node's answer says, in a few words."""
    if not answer.reachable:
        return "no answer"
    if answer.fenced:
        return "fenced"
    if answer.running:
        return f"{answer.role} of {answer.upstream}" if answer.role == "standby" else answer.role
    return f"{answer.state.value}: {answer.reason}"[:60]


def table(cfg):
    """The status table's lines; PgclusterError when pgpool does not answer on its control port."""
    nodes = pcp.nodes(cfg)
    answers = ask_all(sorted({n.host for n in nodes.values()}), cfg.status_port)
    lines = [f"{'id':>3}  {'host':<12} {'pgpool':<8} {'pgpool role':<12} {'node says':<40}"]
    for num, node in sorted(nodes.items()):
        lines.append(f"{num:>3}  {node.host:<12} {node.status:<8} {node.role:<12} {says(answers[node.host])}")
    return lines
