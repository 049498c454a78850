"""A failover that does not depend on repmgrd acting in time.

repmgrd promotes a standby when the primary fails. It has been seen to hang when the primary froze
just as it started, and it is slow on a frozen primary, each of its checks waiting a connect timeout.
So every first-level standby also watches for the primary in the partner watch's rounds. When no
voter has answered as a running primary for FENCE_TIMEOUT + TAKEOVER_MARGIN seconds (long enough
for repmgrd to have promoted a killed primary's successor), and repmgrd has not reached the primary
either, the standby that repmgr's own election would pick promotes itself with `repmgr standby
promote`, once the promotion check allows it (check_promotion: first in the election order, a
majority visible, strict mode's guarantees, the fence time passed), and its repmgrd restarts. The
other standbys follow it as after any failover (repmgrd, or the healing duty). repmgrd's promotions
pass the same check, so the two paths can only ever promote the same node.
"""
import logging
import time

from ..errors import CommandError
from . import repmgr
from .promotion import announce, check_promotion, last_look, withdraw

logger = logging.getLogger(__name__)

TAKEOVER_MARGIN = 2.0  # seconds after FENCE_TIMEOUT: by then repmgrd has promoted a killed primary's successor
# A standby that has seen no running primary since it took its role (the whole cluster starting, as after
# `docker stack rm` and deploy) waits this long instead: the former primary may still be starting, and Docker
# Swarm leaves a task out of DNS until its first health check passes (10 s), so it does not even answer yet.
COLD_START_WAIT = 30.0


class Takeover:
    def __init__(self, node, repmgr=repmgr, announce=announce, withdraw=withdraw):
        self.node = node
        self.repmgr = repmgr
        self.announce, self.withdraw = announce, withdraw
        self.reset()

    def reset(self):
        self.primary_seen_at = time.monotonic()
        self.seen_primary = False  # since this role began

    def tick(self, live):
        node, cfg = self.node, self.node.cfg
        if (not live or live.role != "standby" or node.fenced or cfg.priority == 0 or cfg.host not in cfg.partners
                or node.control.leased()):  # a switchover moves the primary itself
            self.primary_seen_at = time.monotonic()
            return
        asked_at, answers, _majority = node.watch.latest
        if any(a.is_running_primary for a in answers.values()):
            self.primary_seen_at = max(self.primary_seen_at, asked_at)
            self.seen_primary = True
            return
        unseen = time.monotonic() - self.primary_seen_at
        after = cfg.fence_timeout + TAKEOVER_MARGIN if self.seen_primary else COLD_START_WAIT
        if unseen < after or 0 <= live.upstream_last_seen < after:
            return
        me = node.status()
        allowed, reason, _wait = check_promotion(me, answers, cfg.voters, cfg.consistency, cfg.fence_timeout)
        if not allowed:  # the fence time has passed: unseen is longer
            return
        self.announce()
        refused = last_look(node.client, me.primary)
        if refused:
            self.withdraw()
            logger.info("Not taking over: %s.", refused)
            return
        logger.warning("No running primary has answered for %.0f s and repmgrd has promoted nobody; this node is "
                       "the standby repmgr's election picks, so it promotes itself: %s.", unseen, reason)
        try:
            self.repmgr.promote(cfg)
        except CommandError as exc:
            self.withdraw()
            logger.warning("Promoting this node failed: %s", exc)
            return
        node.repmgrd.restart()
        node.wakeup.set()  # the next tick at once: the status endpoint shows the new primary to its partners
        logger.info("Promoted: this node is the primary now.")
