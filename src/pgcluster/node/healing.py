"""Standby duties: the tree returns to its configured shape, a stuck standby rejoins.

First-level standbys (those in PARTNER_NODES) stream from the primary itself,
wherever it runs now: they are the ones a failover promotes and the ones a
synchronous commit waits for. repmgrd moves a cascaded standby to the primary
when its upstream dies; once that upstream is back and streams from the same
primary, the standby returns under it, so the tree heals. A standby that has not streamed for STUCK_AFTER
seconds while a primary runs follows that primary, and is rewound (or
cloned) when it cannot, for example after a failover that lost WAL it had.
"""
import logging
import time

from ..errors import CommandError
from . import facts, repmgr, status

logger = logging.getLogger(__name__)

CHECK_EVERY = 5.0
STUCK_AFTER = 20.0


class Healing:
    def __init__(self, supervisor):
        self.sup = supervisor
        self.reset()

    def reset(self):
        self.next_check = 0.0
        self.streaming_at = time.monotonic()

    def tick(self, live):
        now = time.monotonic()
        if not live or live["role"] != "standby" or self.sup.fenced:
            self.streaming_at = now
            return
        if live["streaming"]:
            self.streaming_at = now
        if now < self.next_check:
            return
        self.next_check = now + CHECK_EVERY
        if now - self.streaming_at > STUCK_AFTER:
            self.rejoin(live)
        elif live["streaming"]:
            self.restore_shape(live)

    def restore_shape(self, live):
        cfg = self.sup.cfg
        wanted = live["primary"] if cfg.host in cfg.partners else cfg.upstream_host
        if not wanted or live["upstream"] == wanted:
            return
        target = status.ask(wanted, cfg.status_port)
        serves = target and target.get("running") and not target.get("fenced") and (
            target.get("role") == "primary" and wanted == live["primary"]
            or target.get("role") == "standby" and target.get("streaming")
            and target.get("primary") == live["primary"])
        if not serves:
            return
        repmgr.follow(cfg, int(target["node_id"]))
        logger.info("Now streaming from %s instead of %s, as the configured tree wants.", wanted,
                    live["upstream"])

    def rejoin(self, live):
        cfg = self.sup.cfg
        answers = facts.ask_all(facts.peer_hosts(cfg), cfg.status_port)
        primary = next((h for h, a in answers.items() if a and a.get("running") and a.get("role") == "primary"
                        and not a.get("fenced")), None)
        if not primary:
            return
        logger.warning("This standby has not streamed for %.0f s while %s runs as primary; following it.",
                       time.monotonic() - self.streaming_at, primary)
        try:
            repmgr.follow(cfg, int(answers[primary]["node_id"]))
            self.streaming_at = time.monotonic()
            return
        except CommandError as exc:
            logger.warning("Following %s failed (%s); rewinding this standby onto it.", primary, exc)
        self.sup.stop_repmgrd()
        self.sup.server.stop()
        self.sup.rewind(primary)
        self.sup.start_repmgrd()
        self.sup.state = "running"
        self.streaming_at = time.monotonic()
