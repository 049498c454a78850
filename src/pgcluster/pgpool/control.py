"""A router's part in a switchover, asked through the control channel (cluster/control.py), and its view.

pause     PgBouncer's PAUSE: running transactions finish, new queries wait. It resumes by itself after
          `seconds`, should the switchover never come back.
resume    RESUME.
retarget  point PgBouncer at the new primary now (the watcher would within a round), and detach the old
          primary from pgpool: pgpool would notice its clean stop only by its health check, seconds later,
          and fail every new session until then; without it, pgpool looks for the primary at once.

GET /router on STATUS_PORT answers this router's view (status.py): pgpool's backends, what PgBouncer points
at, whether it is paused, and its pools; GET /metrics the same and more for Prometheus (metrics.py).
"""
import json
import logging
import socket
import threading
import time

import psycopg2

from .. import httpserve, prometheus, tls
from ..cluster import control
from ..errors import PgclusterError
from . import metrics, pcp, status

logger = logging.getLogger(__name__)


class RouterControl:
    def __init__(self, cfg, pgbouncer, pcp=pcp):
        self.cfg, self.pgbouncer, self.pcp = cfg, pgbouncer, pcp
        self.collector = metrics.Collector(cfg, pgbouncer)
        self.paused_until = 0.0
        self.lock = threading.Lock()

    def serve(self):
        actions = {"pause": self.pause, "resume": self.resume, "retarget": self.retarget}
        get = {"/router": ("application/json", self.view), "/metrics": (prometheus.CONTENT_TYPE, self.scrape)}
        return httpserve.serve(self.cfg.status_port, get=get,
                               post=control.route(self.cfg.control_password, actions, "this router"))

    def scrape(self, _query=None):
        paused = self.paused_until > time.monotonic()
        return metrics.render(self.collector.collect(paused)) + tls.metrics(socket.gethostname())

    def view(self, _query=None):
        view = status.view(self.cfg, self.pgbouncer, self.paused_until > time.monotonic())
        return json.dumps({**view, "tls_expires": tls.expires()}, default=str)

    def pause(self, body):
        seconds, timeout = float(body.get("seconds", 30)), float(body.get("timeout", 5))
        started = time.monotonic()
        if not self.pgbouncer.pause(timeout):
            return 409, {"error": f"PgBouncer did not pause within {timeout:g} s: a transaction runs that long"}
        with self.lock:
            self.paused_until = time.monotonic() + seconds
        threading.Timer(seconds, self.expire).start()
        logger.info("Switchover %s: PgBouncer paused in %.2f s; new queries wait (at most %.0f s).", body.get("owner"),
                    time.monotonic() - started, seconds)
        return 200, {}

    def expire(self):
        with self.lock:
            due = self.paused_until and self.paused_until <= time.monotonic()
        if due:
            logger.warning("The switchover's pause of PgBouncer ran out; resuming it.")
            self.resume({})

    def resume(self, body):
        self.pgbouncer.resume()
        with self.lock:
            self.paused_until = 0.0
        if body:
            logger.info("Switchover %s: PgBouncer resumed.", body.get("owner"))
        return 200, {}

    def retarget(self, body):
        new, owner = body["primary"], body.get("owner")
        try:
            self.pgbouncer.retarget(new, [], f"switchover {owner} promoted it")
        except psycopg2.Error as exc:
            return 500, {"error": f"PgBouncer did not reload: {exc}"}
        if body.get("old"):
            self.detach_from_pgpool(body["old"], new, owner)
        return 200, {}

    def detach_from_pgpool(self, old, new, owner):
        try:
            nodes = self.pcp.nodes(self.cfg)
            for num, node in nodes.items():
                if node.host == old and node.status == "up":
                    self.pcp.detach(self.cfg, num)
                    logger.info("Switchover %s: backend %s (%s): detaching it from pgpool, because %s is the primary "
                                "now; it is attached again once it streams from %s.", owner, num, old, new, new)
        except PgclusterError as exc:
            logger.warning("Switchover %s: detaching %s from pgpool failed (%s); pgpool's health check will.",
                           owner, old, exc)
