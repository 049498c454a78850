"""The node's answer on its status endpoint, built from the supervisor's state and the live facts."""
from .. import tls
from ..cluster.status import NodeState, NodeStatus
from ..errors import CommandError
from . import datadir


def snapshot(cfg, state, reason, live):
    """This node's NodeStatus. live: the server's facts while it serves in its role (None otherwise); a node
    that does not serve answers from its data directory alone."""
    fenced = state is NodeState.FENCED
    common = dict(host=cfg.host, node=cfg.node_name, node_id=cfg.node_id, priority=cfg.priority, state=state,
                  reason=reason, fenced=fenced, voters=tuple(cfg.voters), restored=datadir.is_restored(cfg.pgdata),
                  tls_expires=tls.expires() or 0.0)
    if live is not None:
        return NodeStatus(**common, running=True, has_data=True, was_primary=live.role == "primary" or fenced,
                          role=live.role, primary=live.primary, upstream=live.upstream, streaming=live.streaming,
                          timeline=live.timeline, lsn=live.lsn, upstream_last_seen=live.upstream_last_seen,
                          members=live.members)
    try:
        data = datadir.facts(cfg.pgdata)
    except CommandError:
        data = datadir.DataFacts(has_data=True, state="unreadable")
    return NodeStatus(**common, running=False, has_data=data.has_data, was_primary=data.was_primary,
                      timeline=data.timeline, lsn=data.lsn)
