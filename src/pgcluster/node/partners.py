"""The partner watch: every node asks its partners' status endpoints once a second, in a thread of its own.

Fencing (is a majority visible?) and the failover takeover (is a primary visible?) read its latest round.
"""
import logging
import threading
import time

from ..cluster.quorum import has_quorum

logger = logging.getLogger(__name__)

ASK_EVERY = 1.0


class PartnerWatch:
    """Asks the partners' status endpoints once a second, in a thread of its own, on every node.

    The supervisor's loop also probes the local server and runs the other
    duties, which a saturated machine can slow down for seconds; asked from
    there, a late round would look like a partition. Asking on standbys too
    means that a freshly promoted primary already knows when it last saw a
    majority. A frozen container (`docker pause`) freezes this thread as
    well, so a stale round still shows.
    """

    def __init__(self, cfg, client, stopping, on_freeze=None):
        """on_freeze(seconds): called from this thread when a round starts that late after the one before it
        (longer than FENCE_TIMEOUT, so no round saw a majority meanwhile): the container was frozen."""
        self.cfg = cfg
        self.client = client
        self.stopping = stopping
        self.on_freeze = on_freeze
        self.round_at = 0.0  # when the newest round was started
        self.others = [v for v in cfg.voters if v != cfg.host]
        self.latest = (0.0, {}, False)  # (when the newest round was asked, its answers, a majority seen)
        self.majority_at = 0.0  # when the newest round that saw a majority was asked
        self.longest_gap = (0.0, 0.0)  # (when it ended, seconds): the newest long stretch without a majority seen
        self.thread = None

    def start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self.run, name="partner-watch", daemon=True)
            self.thread.start()

    def run(self):
        delay = 0.0
        while not self.stopping.wait(delay):
            started = time.monotonic()
            try:
                self.check_frozen(started)
                self.ask_round(started)
            except Exception as exc:  # this thread must outlive any failure: without it the primary fences
                logger.warning("Asking the partners failed: %s", exc)
            delay = max(0.0, started + ASK_EVERY - time.monotonic())

    def check_frozen(self, started):
        """Report a freeze the moment this thread wakes from it, before the round's asks: after a thaw the
        server answers at once, and a primary that a standby may have replaced meanwhile must stop first."""
        late = started - self.round_at if self.round_at else 0.0
        self.round_at = started
        if self.on_freeze and late > self.cfg.fence_timeout:
            self.on_freeze(late)

    def ask_round(self, started):
        cfg = self.cfg
        answers = self.client.ask_all(self.others, timeout=min(1.0, cfg.fence_timeout / 2))
        majority = has_quorum({cfg.host} | {h for h, a in answers.items() if a.reachable}, cfg.voters)
        self.latest = (started, answers, majority)
        if majority:
            # A stretch longer than FENCE_TIMEOUT since the last majority (a freeze: `docker pause` stops this
            # thread too) is kept, so that fencing still sees it when this round, right after the thaw, comes first.
            if self.majority_at and started - self.majority_at > cfg.fence_timeout:
                self.longest_gap = (started, started - self.majority_at)
            self.majority_at = started
