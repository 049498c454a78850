"""Standby duties: the tree returns to its configured shape, a stuck standby rejoins.

First-level standbys (those in PARTNER_NODES) stream from the primary itself,
wherever it runs now: they are the ones a failover promotes and the ones a
synchronous commit waits for. repmgrd moves a cascaded standby to the primary
when its upstream dies; should repmgrd not run at that moment (it exits at
start when its upstream is unreachable), the stuck-standby rule below does it,
with the primary that the replicated repmgr metadata names. Once that upstream
is back and streams from the same primary, the standby returns under it, so
the tree heals.

A standby is healthy when it streams on the primary's timeline. One that has
not been for STUCK_AFTER seconds while a primary runs follows that primary, and
is rewound (or cloned) when it cannot, for example when it holds WAL the new
primary never had. After pgcluster moves a standby itself, repmgrd restarts,
so that it monitors the upstream the node really has.
"""
import logging
import time

from ..errors import CommandError
from . import facts, repmgr, status

logger = logging.getLogger(__name__)

CHECK_EVERY = 5.0
STUCK_AFTER = 10.0


def running_primary(cfg, known=""):
    """(host, answer) of the running, unfenced primary, asked of the peers and of whom they follow.

    known: the primary this node's replicated repmgr metadata names; a cascaded standby without
    partners has no other way to find the primary while its upstream is down.
    """
    answers = facts.ask_all(facts.peer_hosts(cfg), cfg.status_port)
    for host, answer in answers.items():
        if status.is_running_primary(answer):
            return host, answer
    named = {a.get("primary") for a in answers.values() if a and a.get("primary")} | {known}
    named -= set(answers) | {"", cfg.host}
    for host in sorted(named):
        answer = status.ask(host, cfg.status_port)
        if status.is_running_primary(answer):
            return host, answer
    return None, None


class Healing:
    def __init__(self, supervisor):
        self.sup = supervisor
        self.reset()

    def reset(self):
        self.next_check = 0.0
        self.healthy_at = time.monotonic()

    def tick(self, live):
        now = time.monotonic()
        if not live or live["role"] != "standby" or self.sup.fenced:
            self.healthy_at = now
            return
        if now < self.next_check:
            return
        self.next_check = now + CHECK_EVERY
        primary, answer = running_primary(self.sup.cfg, live.get("primary", ""))
        if not primary:
            self.healthy_at = now  # nobody to follow: repmgrd's failover decides
            return
        if live["streaming"] and int(live.get("timeline") or 0) == int(answer.get("timeline") or 0):
            self.healthy_at = now
            self.restore_shape(live, primary)
        elif now - self.healthy_at > STUCK_AFTER:
            self.rejoin(primary, answer)

    def restore_shape(self, live, primary):
        cfg = self.sup.cfg
        wanted = primary if cfg.host in cfg.partners else cfg.upstream_host
        if not wanted or live["upstream"] == wanted:
            return
        target = status.ask(wanted, cfg.status_port)
        serves = target and target.get("running") and not target.get("fenced") and (
            target.get("role") == "primary" and wanted == primary
            or target.get("role") == "standby" and target.get("streaming") and target.get("primary") == primary)
        if not serves:
            return
        repmgr.follow(cfg, int(target["node_id"]))
        self.sup.restart_repmgrd()
        logger.info("Now streaming from %s instead of %s, as the configured tree wants.", wanted,
                    live["upstream"])

    def rejoin(self, primary, answer):
        cfg = self.sup.cfg
        logger.warning("This standby has not streamed on %s's timeline for %.0f s; following %s.", primary,
                       time.monotonic() - self.healthy_at, primary)
        try:
            repmgr.follow(cfg, int(answer["node_id"]))
            self.sup.restart_repmgrd()
            self.healthy_at = time.monotonic()
            return
        except CommandError as exc:
            logger.warning("Following %s failed (%s); rewinding this standby onto it.", primary, exc)
        self.sup.stop_repmgrd()
        self.sup.server.stop()
        self.sup.rewind(primary)
        self.sup.start_repmgrd()
        self.sup.state = "running"
        self.healthy_at = time.monotonic()
