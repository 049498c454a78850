"""The node's PID under tini: decides the role, has it carried out, runs the duties of that role.

It forwards stop signals (fast shutdown), answers repmgr's service requests,
and exits when PostgreSQL exits, so that Docker restarts the container and
the role is decided again. Duties (restore, fencing, synchronous mode,
healing) run once a TICK; one changes the role only by raising Redecide.
"""
import logging
import signal
import threading
import time

import psycopg2

from ..cluster import endpoint
from ..cluster.status import NodeState
from ..errors import CommandError, FatalError, Redecide
from . import datadir, endpoints, promotion, restore, service
from .certificates import Certificates
from .facts import LiveProbe, gather
from .fencing import Fencing
from .control import Control
from .exporter import Exporter
from .healing import Healing
from .history import History
from .metrics import Record
from .partners import PartnerWatch
from .repmgrd import Repmgrd
from .role import Action, Decision, decide_role
from .roles import Roles
from .server import Server, local_connect
from .slots import SlotSync
from .snapshot import snapshot
from .sync import SyncReplication
from .takeover import Takeover
from .transitions import Transitions

logger = logging.getLogger(__name__)

DECIDE_EVERY = 2.0
TICK = 1.0  # the duties' period
RESUME_WAIT = 2.5  # two partner rounds and a margin


class Stopped(Exception):
    """A stop signal arrived while the node was still starting."""


class Supervisor:
    def __init__(self, cfg):
        self.cfg = cfg
        self.stopping = threading.Event()
        self.wakeup = threading.Event()  # a control request ends the wait between two ticks
        self.client = endpoint.Client(cfg.status_port)
        self.server = Server(cfg.pgdata)
        self.repmgrd = Repmgrd(cfg.pgdata)
        self.exporter = Exporter(cfg)
        self.requests = service.Requests()
        self.state, self.reason = NodeState.STARTING, ""
        self.starting = True
        self.transitions = Transitions(cfg, self.server, self.client, self.report, self.stopping)
        self.watch = PartnerWatch(cfg, self.client, self.stopping, self.on_freeze)  # its rounds: fencing, takeover
        self.frozen_for = None  # seconds of a freeze that stopped this primary's server, until the loop fences
        self.control = Control(self)
        self.history = History(self)
        self.certificates = Certificates(self)  # installs the TLS files before the endpoint serves with them
        self.duties = [restore.Restore(self), Fencing(self), Takeover(self), SyncReplication(self), SlotSync(self),
                       Healing(self), self.history, self.certificates, Roles(self)]
        self.probe = LiveProbe(cfg)
        self.live = None  # the local server's facts as of the last tick
        self.record = Record()  # promotions and fences, for /metrics

    # --- what duties and the status endpoint see ------------------------------------------------
    @property
    def fenced(self):
        return self.state is NodeState.FENCED

    def report(self, state):
        self.state = state

    def local(self, dbname=None):
        return local_connect(self.cfg.postgres_user, dbname or self.cfg.replication_db)

    def kept(self):
        """The live probe's connection (REPLICATION_DB), kept between ticks, for the duties: they run in this
        thread right after the probe, and a login of their own every tick cost each node two backend starts
        a second, most of its idle CPU. Raises psycopg2.OperationalError while the server does not answer."""
        conn = self.probe.conn
        if conn is None or conn.closed:
            raise psycopg2.OperationalError("the local server does not answer")
        return conn

    def status(self):
        serving = self.state in (NodeState.RUNNING, NodeState.FENCED) and self.server.running()
        live = self.live if serving else None
        state = self.state
        if live and live.role == "standby" and state is NodeState.RUNNING and promotion.announced():
            state = NodeState.PROMOTING
        return snapshot(self.cfg, state, self.reason, live)

    def on_freeze(self, seconds):
        """From the partner watch, the moment it wakes from a freeze longer than FENCE_TIMEOUT: a running
        primary stops PostgreSQL at once (immediate shutdown), without waiting for the loop's next tick,
        which can come a second later on a busy machine while the thawed server already takes writes; the
        loop then fences."""
        live = self.live
        if self.state is not NodeState.RUNNING or not live or live.role != "primary":
            return
        self.frozen_for = seconds
        logger.warning("Fencing: this primary was frozen for %.1f s, longer than FENCE_TIMEOUT, and a standby may "
                       "have been promoted meanwhile; stopping PostgreSQL at once.", seconds,
                       extra={"event": "fence", "reason": f"frozen for {seconds:.1f} s"})
        self.server.signal(signal.SIGQUIT)
        self.wakeup.set()

    def fence_if_frozen(self):
        if self.frozen_for is not None:
            seconds, self.frozen_for = self.frozen_for, None
            why = f"this primary was frozen for {seconds:.1f} s, longer than FENCE_TIMEOUT"
            raise Redecide(why, urgent=True, decision=Decision(Action.FENCE, why))

    # --- signals -----------------------------------------------------------------------------
    def _on_stop(self, signum, _frame):
        logger.info("Received %s; stopping PostgreSQL with a fast shutdown.", signal.Signals(signum).name)
        self.stopping.set()
        self.wakeup.set()
        if self.starting:
            raise Stopped()

    # --- main --------------------------------------------------------------------------------
    def run(self):
        self.requests.install()
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        endpoint.serve(self.cfg.status_port, self.status, get=endpoints.routes(self), post=self.control.routes())
        self.watch.start()
        try:
            return self.serve_roles()
        except Stopped:
            self.shutdown()
            return 0

    def serve_roles(self):
        """Decide, carry out, serve; again whenever a duty raises Redecide or a transition fails."""
        decision, failed_starts = None, 0
        while True:
            self.starting = True
            try:
                if datadir.initialising(self.cfg.pgdata):
                    logger.warning("The previous initialisation of this data directory did not finish; "
                                   "removing it and starting again.")
                    datadir.clear(self.cfg.pgdata)
                plan = restore.pending(self.cfg)
                if plan:
                    decision = None
                    self.state, self.reason = NodeState.HELD, f"recovery {plan.id} to {plan.target}"
                    if not restore.apply(self.cfg, plan, self.client, self.stopping):
                        continue
                decision = decision or self.decide()
                if decision.action is Action.HOLD:
                    self.state, self.reason = NodeState.HELD, decision.reason
                    self.control.answer_demoted()
                    decision = self.control.hold()
                    continue
                before = datadir.facts(self.cfg.pgdata)
                restored, fenced_before = datadir.is_restored(self.cfg.pgdata), datadir.is_fenced(self.cfg.pgdata)
                resuming = before.was_primary and not self.control.leased()
                if decision.action is Action.START_PRIMARY and resuming:
                    decision = self.resume_or_not(decision)
                self.transitions.carry_out(decision)
                promotion.withdraw()  # a promotion announced before this role is over, or moot
                self.history.took_role(decision, before.was_primary, fenced_before, restored)
                self.exporter.restart()
                fenced = decision.action is Action.FENCE
                if not fenced:
                    self.repmgrd.start()
            except (CommandError, FatalError, psycopg2.Error) as exc:
                logger.error("%s Deciding again in 5 s.", str(exc).strip())
                self.repmgrd.stop()
                self.server.stop()
                decision, failed_starts = rewind_after_failed_starts(decision, failed_starts)
                self.stopping.wait(5)
                continue
            self.starting, failed_starts = False, 0
            self.state, self.reason = (NodeState.FENCED, decision.reason) if fenced else (NodeState.RUNNING, "")
            self.record.took_role(fenced)
            self.frozen_for = None  # a freeze before this role began is the fence just carried out, or moot
            for duty in self.duties:
                duty.reset()
            try:
                return self.loop()
            except Redecide as again:
                if again.decision is None:
                    logger.warning("Deciding the role again: %s.", again)
                self.server.stop(immediate=again.urgent)
                self.repmgrd.stop()
                decision = again.decision

    def resume_or_not(self, decision):
        """A former primary about to start as primary shows RESUMING for RESUME_WAIT (two partner rounds) and
        decides again: a standby that began promoting meanwhile (PROMOTING) or saw this one resuming shows by
        then, so at most one of the two goes ahead."""
        self.state, self.reason = NodeState.RESUMING, decision.reason
        logger.info("Resuming as primary in %.1f s unless a standby is being promoted meanwhile.", RESUME_WAIT)
        self.stopping.wait(RESUME_WAIT)
        return self.decide()

    def decide(self):
        """Gather facts and decide until the decision is not to wait."""
        last, last_logged = None, 0.0
        waited_since = time.monotonic()
        while True:
            decision = decide_role(gather(self.cfg, self.client))
            self.reason = decision.reason
            now = time.monotonic()
            if decision.reason != last or now - last_logged > 30:
                logger.info("Decided to %s: %s.", decision.action.value, decision.reason,
                            extra={"event": "decision", "action": decision.action.name.lower(),
                                   "reason": decision.reason})
                last, last_logged = decision.reason, now
            if decision.action is not Action.WAIT:
                return decision
            self.state = NodeState.WAITING
            empty_standby = not self.cfg.initial_primary and not datadir.has_data(self.cfg.pgdata)
            if empty_standby and now - waited_since > self.cfg.wait_upstream_timeout:
                raise FatalError(f"Upstream {self.cfg.upstream_host} did not become available within "
                                 f"WAIT_UPSTREAM_TIMEOUT={self.cfg.wait_upstream_timeout} s; exiting so the "
                                 f"container restarts.")
            self.stopping.wait(DECIDE_EVERY)

    def loop(self):
        self.live = self.probe.read()
        while not self.stopping.is_set():
            self.wakeup.wait(TICK)
            self.wakeup.clear()
            if self.stopping.is_set():
                break
            self.fence_if_frozen()
            if not self.server.running():
                logger.error("PostgreSQL exited with code %s; stopping the container so that it restarts "
                             "and decides its role again.", self.server.exit_code)
                self.repmgrd.stop()
                return 1
            self.requests.serve(self.server.running, self.restart_server)
            self.exporter.watch()
            if not self.fenced:
                self.repmgrd.watch()
            before, self.live = self.live, self.probe.read()
            live = self.live
            if before and live and before.role == "standby" and live.role == "primary":
                self.promoted(live)
            self.control.serve(live)
            for duty in self.duties:
                try:
                    duty.tick(live)
                except Redecide:
                    raise
                except Exception as exc:  # a failing duty is logged and retried, never fatal
                    logger.warning("%s failed: %s", type(duty).__name__, exc)
        self.shutdown()
        return 0

    def promoted(self, live):
        """This standby runs as primary now: repmgrd promoted it after a failure, or a switchover did."""
        switchover = self.control.leased()
        promotion.withdraw()  # done: should this node be a standby again soon, it is not promoting then
        self.record.promoted(switchover)
        kind = "switchover" if switchover else "failover"
        logger.info("Promoted by a %s: this node is the primary now, on timeline %s.", kind, live.timeline,
                    extra={"event": "promotion", "kind": kind, "timeline": live.timeline})
        self.history.note("switchover" if switchover else "promotion",
                          "a planned switchover" if switchover else "the primary failed", live.timeline)

    def restart_server(self):
        """repmgr's service restart: the role stays what it was."""
        state = self.state
        self.server.stop()
        self.transitions.start_server()
        self.state = state

    def shutdown(self):
        self.state = NodeState.STOPPING
        self.repmgrd.stop()
        self.exporter.stop()
        code = self.server.stop()
        logger.info("PostgreSQL stopped (exit code %s).", code)


def rewind_after_failed_starts(decision, failed_starts, limit=2):
    """(the next decision, failed starts as a standby so far) after a transition failed. A standby that
    failed to start `limit` times in a row is rewound onto the node it follows: its data directory replayed
    WAL that node's timeline does not have ("requested timeline does not contain minimum recovery point"),
    and starting it again would fail the same way; the rewind falls back to a clone."""
    if decision is None or decision.action is not Action.START_STANDBY or not decision.source:
        return None, 0
    failed_starts += 1
    if failed_starts < limit:
        return None, failed_starts
    why = f"starting as a standby failed {failed_starts} times; rewinding onto {decision.source}"
    logger.warning("Decided to rewind and rejoin as standby: %s.", why)
    return Decision(Action.REWIND, why, decision.source), 0
