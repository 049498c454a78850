"""What a node's status port serves besides /status: the role API, /cluster, /history and /metrics."""
import json
import shutil
import threading
import time

from .. import prometheus, tls
from ..cluster import overview
from . import history, metrics, roleapi
from .facts import peer_hosts
from .server import local_connect

LIVENESS_TIMEOUT = 30.0  # seconds without a partner round before /liveness fails


class NearbyRound:
    """The answers the role API and /metrics judge by, on a node outside the voters (a cascaded standby),
    whose partner watch asks nobody: the primary its metadata names and its upstream, asked at most once
    a second however often a load balancer checks. The round's time stays the partner watch's, which
    /liveness judges."""

    def __init__(self, node, every=1.0):
        self.node, self.every = node, every
        self.lock = threading.Lock()
        self.asked_at, self.answers = 0.0, {}

    def __call__(self):
        with self.lock:
            if time.monotonic() - self.asked_at >= self.every:
                live, host = self.node.live, self.node.cfg.host
                hosts = sorted({h for h in (live.primary, live.upstream) if h and h != host}) if live else []
                self.asked_at = time.monotonic()
                self.answers = self.node.client.ask_all(hosts, timeout=1.0)
            return self.node.watch.latest[0], self.answers


def routes(node):
    """GET routes for httpserve; node: the Supervisor."""
    cfg, watch = node.cfg, node.watch
    latest_round = (lambda: watch.latest[:2]) if cfg.host in cfg.partners else NearbyRound(node)
    found = roleapi.routes(node.status, latest_round, cfg.voters, cfg.fence_timeout,
                           max(LIVENESS_TIMEOUT, 3 * cfg.fence_timeout))

    def cluster(_query):
        primary, nodes = overview.members([cfg.host, *peer_hosts(cfg)], cfg.status_port)
        return json.dumps({"primary": primary, "members": nodes})

    def node_metrics(_query):
        live = node.live
        usage = shutil.disk_usage(cfg.pgdata)
        return metrics.render(node.status(), live.replay_delay if live else 0.0, latest_round()[1], cfg.voters,
                              node.record, disk=(usage.total, usage.free)) + tls.metrics(cfg.node_name)

    def events(_query):
        conn = local_connect(cfg.postgres_user, cfg.replication_db)
        try:
            return json.dumps(history.read(conn))
        finally:
            conn.close()

    found["/cluster"] = ("application/json", cluster)
    found["/history"] = ("application/json", events)
    found["/metrics"] = (prometheus.CONTENT_TYPE, node_metrics)
    return found
