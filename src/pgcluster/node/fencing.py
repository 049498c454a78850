"""Self-fencing: a primary that loses the majority stops taking writes by itself.

Once a second the primary asks every partner's status endpoint. When it has
not seen a majority for FENCE_TIMEOUT seconds (time frozen by `docker pause`
counts too) it restarts PostgreSQL read-only: standby mode without an
upstream, which refuses writes and ends every session. When it sees another
primary with precedence (a newer timeline), it steps down at once. A fenced
node that sees the majority again decides its role afresh: it resumes as
primary when nobody was promoted, and rejoins as a standby otherwise.
"""
import logging
import time

from ..errors import Redecide
from . import facts, postgres
from .role import has_quorum

logger = logging.getLogger(__name__)


def rival_with_precedence(me, answers, voters):
    """The host of another running primary that outranks this one, or None.

    Precedence: the newer timeline (it was promoted later, after this one
    lost the majority); on a tie, the partner listed first.
    """
    order = list(voters)
    rank = lambda host: order.index(host) if host in order else len(order)  # noqa: E731
    for host, answer in answers.items():
        if not answer or not answer.get("running") or answer.get("role") != "primary" or answer.get("fenced"):
            continue
        theirs, mine = int(answer.get("timeline") or 0), int(me.get("timeline") or 0)
        if theirs > mine or (theirs == mine and rank(host) < rank(me["host"])):
            return host
    return None


class Fencing:
    def __init__(self, supervisor):
        self.sup = supervisor
        self.last_majority = time.monotonic()

    def reset(self):
        self.last_majority = time.monotonic()

    def tick(self, live):
        sup, cfg = self.sup, self.sup.cfg
        others = [v for v in cfg.voters if v != cfg.host]
        if sup.fenced:
            answers = facts.ask_all(others, cfg.status_port, timeout=1.0)
            visible = {cfg.host} | {h for h, a in answers.items() if a}
            if has_quorum(visible, cfg.voters):
                raise Redecide(f"this fenced node sees {len(visible)} of {len(cfg.voters)} partners again")
            return
        if not live or live["role"] != "primary":
            self.last_majority = time.monotonic()
            return
        if time.monotonic() - self.last_majority > cfg.fence_timeout:
            self.fence(f"has not seen a majority of its partners for {time.monotonic() - self.last_majority:.1f} s")
            return
        started = time.monotonic()
        answers = facts.ask_all(others, cfg.status_port, timeout=min(1.0, cfg.fence_timeout / 2))
        rival = rival_with_precedence(dict(live, host=cfg.host), answers, cfg.voters)
        if rival:
            raise Redecide(f"{rival} runs as primary on a newer timeline; stepping down to rejoin as its standby",
                           urgent=True)
        visible = {cfg.host} | {h for h, a in answers.items() if a}
        if has_quorum(visible, cfg.voters):
            self.last_majority = started
        elif time.monotonic() - self.last_majority > cfg.fence_timeout:
            seen = sum(1 for v in cfg.voters if v in visible)
            self.fence(f"sees only {seen} of {len(cfg.voters)} partners since "
                       f"{time.monotonic() - self.last_majority:.1f} s")

    def fence(self, why):
        sup = self.sup
        logger.warning("Fencing: this primary %s; restarting PostgreSQL read-only, which ends every session.", why)
        sup.server.stop(immediate=True)
        sup.stop_repmgrd()
        postgres.mark_fenced(sup.cfg.pgdata)
        sup.fenced = True
        sup.start_server()
        sup.state, sup.reason = "fenced", f"this primary {why}"
        logger.warning("Fenced: PostgreSQL runs read-only until a majority of partners is visible again.")
