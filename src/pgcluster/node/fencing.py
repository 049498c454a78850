"""Self-fencing: a primary that loses the majority stops taking writes by itself.

Once a second every node asks its partners' status endpoints, in a thread of
its own (partners.PartnerWatch). When a primary has not seen a majority for
FENCE_TIMEOUT seconds (time frozen by `docker pause` counts too) it asks for
the fence: PostgreSQL restarts read-only, in standby mode without an
upstream, which refuses writes and ends every session. When it sees another
primary with precedence (a newer timeline), it steps down at once. A fenced
node that sees the majority again decides its role afresh: it resumes as
primary when nobody was promoted, and rejoins as a standby otherwise.
"""
import logging
import time

from ..errors import Redecide
from .role import Action, Decision

logger = logging.getLogger(__name__)


def rival_with_precedence(host, timeline, answers, voters):
    """The host of another running primary that outranks this one (host, on timeline), or None.

    Precedence: the newer timeline (it was promoted later, after this one
    lost the majority); on a tie, the partner listed first.
    """
    order = list(voters)
    rank = lambda host: order.index(host) if host in order else len(order)  # noqa: E731
    for other, answer in answers.items():
        if not answer.is_running_primary:
            continue
        if answer.timeline > timeline or (answer.timeline == timeline and rank(other) < rank(host)):
            return other
    return None


class Fencing:
    """Duty of every node: fence a primary without a majority, step down before a rival, unfence."""

    def __init__(self, node):
        self.node = node
        self.watch = node.watch
        self.since = time.monotonic()  # when this node last became primary, or was fenced

    def reset(self):
        self.since = time.monotonic()

    def tick(self, live):
        cfg = self.node.cfg
        asked_at, answers, majority = self.watch.latest
        fresh = asked_at > self.since  # asked after this node became primary, or was fenced
        seen = f"{1 + sum(1 for a in answers.values() if a.reachable)} of {len(cfg.voters)}"
        if self.node.fenced:
            if fresh and majority:
                raise Redecide(f"this fenced node sees {seen} partners again")
            return
        if not live or live.role != "primary":
            self.since = time.monotonic()
            return
        if fresh:
            rival = rival_with_precedence(cfg.host, live.timeline, answers, cfg.voters)
            if rival:
                raise Redecide(f"{rival} runs as primary on a newer timeline; stepping down to rejoin as its "
                               f"standby", urgent=True)
        gap_ended, gap = self.watch.longest_gap
        if gap_ended > self.since and gap > cfg.fence_timeout:
            # A round right after a freeze saw the majority again before this tick ran: the freeze still counts.
            why = (f"this primary saw no majority of its partners for {gap:.1f} s (it was frozen or starved) "
                   f"before its last round of asks reached {seen}; a standby may have been promoted meanwhile")
            logger.warning("Fencing: %s; restarting PostgreSQL read-only, which ends every session.", why,
                           extra={"event": "fence", "reason": why})
            raise Redecide(why, urgent=True, decision=Decision(Action.FENCE, why))
        unseen_for = time.monotonic() - max(self.since, self.watch.majority_at)
        if unseen_for > cfg.fence_timeout:
            last = f"its last round of asks reached {seen}" if fresh else "no round of asks has finished since"
            why = f"this primary has not seen a majority of its partners for {unseen_for:.1f} s ({last})"
            logger.warning("Fencing: %s; restarting PostgreSQL read-only, which ends every session.", why,
                           extra={"event": "fence", "reason": why})
            raise Redecide(why, urgent=True, decision=Decision(Action.FENCE, why))
