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
not been for STUCK_AFTER seconds while a primary runs, or at once when that
primary is on a newer timeline and nothing streams, follows that primary, and
is rewound (or cloned) when it cannot, or when it still does not stream after
following (it holds WAL of a timeline the primary never had). After pgcluster
moves a standby itself, repmgrd restarts, so that it monitors the upstream the
node really has.

A first-level standby whose partner watch shows a partner running as primary
on a newer timeline, while this standby still streams from another node,
follows that primary at once: a frozen primary's stream looks alive until
wal_receiver_timeout, and repmgrd, each of its checks of the frozen node
waiting a connect timeout, moves the standby seconds after pgcluster's
takeover promoted another (in strict mode no commit is acknowledged until a
standby streams from the new primary). Its repmgrd is stopped first, so that
repmgrd's own follow never runs alongside.
"""
import logging
import time
from dataclasses import replace

from ..cluster.primary import find_primary
from ..errors import CommandError, Redecide
from . import repmgr
from .facts import peer_hosts
from .role import Action, Decision

logger = logging.getLogger(__name__)

CHECK_EVERY = 5.0
STUCK_AFTER = 10.0


def running_primary(cfg, client, known=""):
    """The running primary's NodeStatus, asked of the peers and of the nodes they name, or None.

    known: the primary this node's replicated repmgr metadata names; a cascaded standby without
    partners has no other way to find the primary while its upstream is down.
    """
    answers = client.ask_all(peer_hosts(cfg))
    found = find_primary(answers.values())
    if found:
        return found
    named = {a.primary for a in answers.values() if a.primary} | {known}
    named -= set(answers) | {"", cfg.host}
    return find_primary(client.ask_all(sorted(named)).values()) if named else None


class Healing:
    def __init__(self, node, repmgr=repmgr):
        self.node = node
        self.repmgr = repmgr
        self.reset()

    def reset(self):
        self.next_check = 0.0
        self.healthy_at = time.monotonic()
        self.followed = None  # the primary followed since this standby last streamed on its timeline

    def tick(self, live):
        now = time.monotonic()
        if not live or live.role != "standby" or self.node.fenced or self.node.control.leased():
            self.healthy_at = now
            return
        promoted = self.promoted_elsewhere(live)
        if promoted:
            return self.follow_at_once(promoted)
        if now < self.next_check:
            return
        self.next_check = now + CHECK_EVERY
        primary = running_primary(self.node.cfg, self.node.client, live.primary)
        if not primary:
            self.healthy_at = now  # nobody to follow: repmgrd's failover decides
            return
        if live.streaming and live.timeline == primary.timeline:
            self.healthy_at, self.followed = now, None
            self.restore_shape(live, primary.host)
        elif now - self.healthy_at > STUCK_AFTER or (primary.timeline > live.timeline and not live.streaming):
            # A primary on a newer timeline, and no stream: a failover happened and nobody moved this
            # standby (repmgrd waits for a notification the promoted node may not send); follow it now.
            self.rejoin(primary, f"this standby has not streamed on {primary.host}'s timeline for "
                                 f"{time.monotonic() - self.healthy_at:.0f} s")

    def promoted_elsewhere(self, live):
        """The partner that the partner watch's latest round shows running as primary on a newer timeline than
        this first-level standby's, while this standby streams from another node; else None."""
        cfg = self.node.cfg
        if cfg.host not in cfg.partners or self.followed:
            return None
        _asked_at, answers, _majority = self.node.watch.latest
        return next((a for a in answers.values() if a.is_running_primary and a.timeline > live.timeline
                     and a.host != live.upstream), None)

    def follow_at_once(self, seen):
        primary = self.node.client.ask(seen.host)  # the round may be a second old
        if not (primary.is_running_primary and primary.timeline == seen.timeline):
            return
        self.node.repmgrd.stop(grace=0)
        live = self.node.probe.read()  # repmgrd may have moved it meanwhile
        if not (live and live.role == "standby" and live.upstream != primary.host):
            self.node.repmgrd.start()
            return
        # From now on this node's status names the primary it follows, not the one its metadata still names: a
        # former primary that comes back and sees a majority of partners (this node among them) but not the new
        # primary must not take this node for one of its own standbys and resume as a second primary.
        self.node.live = replace(live, primary=primary.host)
        self.rejoin(primary, f"{primary.host} runs as primary on timeline {primary.timeline}, newer than this "
                             f"standby's, which still streams from {live.upstream or 'nobody'}")

    def restore_shape(self, live, primary):
        cfg = self.node.cfg
        wanted = primary if cfg.host in cfg.partners else cfg.upstream_host
        if not wanted or live.upstream == wanted:
            return
        target = self.node.client.ask(wanted)
        serves = target.is_running_primary if wanted == primary else target.streams_from_primary(primary)
        if not serves:
            return
        self.repmgr.follow(cfg, target.node_id)
        self.node.repmgrd.restart()
        logger.info("Now streaming from %s instead of %s, as the configured tree wants.", wanted, live.upstream)

    def rejoin(self, primary, why):
        if self.followed == primary.host:  # it followed, and still does not stream: its WAL went elsewhere
            why = f"this standby followed {primary.host} and still does not stream on its timeline"
            raise Redecide(why, decision=Decision(Action.REWIND, why, primary.host))
        logger.warning("Following %s: %s.", primary.host, why)
        self.followed = primary.host
        try:
            self.repmgr.follow(self.node.cfg, primary.node_id)
            self.node.repmgrd.restart()
            self.node.wakeup.set()  # the next tick at once: the status shows the new upstream and timeline
            self.healthy_at = time.monotonic()
            return
        except CommandError as exc:
            logger.warning("Following %s failed (%s); rewinding this standby onto it.", primary.host, exc)
        why = f"this standby cannot follow {primary.host}"
        raise Redecide(why, decision=Decision(Action.REWIND, why, primary.host))
