"""The node's PID under tini: decides the role, prepares the data, runs PostgreSQL and repmgrd.

It forwards stop signals (fast shutdown), answers repmgr's service requests,
runs the periodic duties of the current role, and exits when PostgreSQL exits
so that Docker restarts the container and the role is decided again.
"""
import logging
import os
import shutil
import signal
import subprocess
import threading
import time

import psycopg2

from .. import db, proc, render
from ..errors import CommandError, FatalError, Redecide
from . import bootstrap, facts, files, paths, postgres, repmgr, restore, status
from .fencing import Fencing
from .healing import Healing
from .role import Action, decide_role
from .sync import SyncReplication

logger = logging.getLogger(__name__)

PID_FILE = "/tmp/pgcluster-node.pid"
REQUEST_FILE = "/tmp/pgcluster-node.request"
DONE_FILE = "/tmp/pgcluster-node.done"
DECIDE_EVERY = 2.0
TICK = 1.0  # the duties' period: fencing probes, sync mode, healing


class Stopped(Exception):
    """A stop signal arrived while the node was still starting."""


class Supervisor:
    def __init__(self, cfg):
        self.cfg = cfg
        self.env = repmgr.child_env(cfg.pgdata)
        self.server = postgres.Server(cfg.pgdata)
        self.repmgrd = None
        self.repmgrd_started = 0.0
        self.state = "starting"
        self.reason = ""
        self.fenced = False
        self.stopping = threading.Event()
        self.starting = True
        self.service_request = False
        self.duties = [restore.Restore(self), Fencing(self), SyncReplication(self), Healing(self)]
        self.probe = facts.LiveProbe(cfg)
        self.live = None  # the local server's facts as of the last tick; the status endpoint answers them

    # --- status endpoint ---------------------------------------------------------------------
    def snapshot(self):
        cfg = self.cfg
        answer = {"node": cfg.node_name, "node_id": cfg.node_id, "host": cfg.host, "state": self.state,
                  "reason": self.reason, "fenced": self.fenced, "voters": list(cfg.voters),
                  "restored": restore.is_restored(cfg.pgdata)}
        serving = self.state in ("running", "fenced") and self.server.running()
        live = self.live if serving else None  # not before registration: others clone from it
        if live:
            answer.update(running=True, has_data=True, was_primary=live["role"] == "primary" or self.fenced,
                          **live)
        else:
            try:
                data = postgres.data_facts(cfg.pgdata)
            except CommandError:
                data = {"has_data": True, "was_primary": False, "timeline": 0, "lsn": 0, "state": "unreadable"}
            answer.update(running=False, role="unknown", primary="", upstream="", streaming=False,
                          has_data=data["has_data"], was_primary=data["was_primary"],
                          timeline=data["timeline"], lsn=data["lsn"])
        return answer

    # --- signals -----------------------------------------------------------------------------
    def _on_stop(self, signum, _frame):
        logger.info("Received %s; stopping PostgreSQL with a fast shutdown.", signal.Signals(signum).name)
        self.stopping.set()
        if self.starting:
            raise Stopped()

    def _on_service(self, _signum, _frame):
        self.service_request = True

    # --- main --------------------------------------------------------------------------------
    def run(self):
        with open(PID_FILE, "w") as handle:
            handle.write(str(os.getpid()))
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGUSR1, self._on_service)
        status.serve(self.cfg.status_port, self.snapshot)
        try:
            return self.serve_roles()
        except Stopped:
            self.shutdown()
            return 0

    def serve_roles(self):
        """Decide, act, serve; again whenever a duty asks to decide anew or an action fails."""
        while True:
            self.starting = True
            try:
                if bootstrap.interrupted(self.cfg.pgdata):
                    logger.warning("The previous initialisation of this data directory did not finish; "
                                   "removing it and starting again.")
                    postgres.clear_data_dir(self.cfg.pgdata)
                plan = restore.pending(self.cfg)
                if plan:
                    self.state, self.reason = "held", f"recovery {plan['id']} to {plan['target']}"
                    if not restore.apply(self.cfg, plan, self.stopping):
                        continue
                self.act(self.decide())
                self.start_repmgrd()
            except (CommandError, FatalError, psycopg2.Error) as exc:
                logger.error("%s Deciding again in 5 s.", str(exc).strip())
                self.stop_repmgrd()
                self.server.stop()
                self.stopping.wait(5)
                continue
            self.starting = False
            self.state, self.reason = "running", ""
            for duty in self.duties:
                duty.reset()
            try:
                return self.loop()
            except Redecide as again:
                logger.warning("Deciding the role again: %s.", again)
                self.server.stop(immediate=again.urgent)
                self.stop_repmgrd()

    def decide(self):
        """Gather facts and decide until the decision is not to wait."""
        last, last_logged = None, 0.0
        waited_since = time.monotonic()
        while True:
            decision = decide_role(facts.gather(self.cfg))
            self.reason = decision.reason
            now = time.monotonic()
            if decision.reason != last or now - last_logged > 30:
                logger.info("Decided to %s: %s.", decision.action.value, decision.reason)
                last, last_logged = decision.reason, now
            if decision.action is not Action.WAIT:
                return decision
            self.state = "waiting"
            empty_standby = not self.cfg.initial_primary and not postgres.has_data(self.cfg.pgdata)
            if empty_standby and now - waited_since > self.cfg.wait_upstream_timeout:
                raise FatalError(f"Upstream {self.cfg.upstream_host} did not become available within "
                                 f"WAIT_UPSTREAM_TIMEOUT={self.cfg.wait_upstream_timeout} s; exiting so the "
                                 f"container restarts.")
            self.stopping.wait(DECIDE_EVERY)

    def act(self, decision):
        action, source = decision.action, decision.source
        self.fenced = False  # every action leaves the node unfenced: resumed, rewound or cloned
        if action is Action.INIT_PRIMARY:
            self.state = "initialising"
            postgres.clear_incomplete(self.cfg.pgdata)
            bootstrap.init_primary(self.cfg)
            self.start_server()
            self.ensure_primary_registered()
        elif action is Action.START_PRIMARY:
            if postgres.is_fenced_dir(self.cfg.pgdata):
                postgres.unfence(self.cfg.pgdata)
                logger.info("Lifting the fence: nobody else was promoted, so this node resumes as primary.")
            self.start_server()
            self.wait_promoted()  # data restored from a backup replays WAL to its target first
            if restore.is_restored(self.cfg.pgdata):
                restore.finish(self.cfg.pgdata)
                logger.info("The restored data reached its recovery target and this node was promoted.")
            self.ensure_primary_registered()
        elif action is Action.CLONE:
            self.clone(source)
        elif action is Action.START_STANDBY:
            self.start_server()
            self.ensure_following(source)
        elif action is Action.REWIND:
            self.rewind(source)

    def loop(self):
        self.live = self.probe.read()
        while not self.stopping.wait(TICK):
            if not self.server.running():
                logger.error("PostgreSQL exited with code %s; stopping the container so that it restarts "
                             "and decides its role again.", self.server.process.returncode)
                self.stop_repmgrd()
                return 1
            if self.service_request:
                self.service_request = False
                self.serve_request()
            if not self.fenced:
                self.watch_repmgrd()
            self.live = live = self.probe.read()
            for duty in self.duties:
                try:
                    duty.tick(live)
                except Redecide:
                    raise
                except Exception as exc:  # a failing duty is logged and retried, never fatal
                    logger.warning("%s failed: %s", type(duty).__name__, exc)
        self.shutdown()
        return 0

    def shutdown(self):
        self.state = "stopping"
        self.stop_repmgrd()
        code = self.server.stop()
        logger.info("PostgreSQL stopped (exit code %s).", code)

    # --- PostgreSQL and repmgrd ------------------------------------------------------------------
    def start_server(self):
        self.state = "starting"
        self.server.start(self.env)
        self.server.wait_ready(self.cfg.postgres_user)
        logger.info("PostgreSQL accepts connections.")

    def wait_promoted(self, timeout=86400):
        """Wait until recovery ends (WAL replayed up to the target, then promotion)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.server.running():
                raise FatalError("PostgreSQL exited during recovery; see its log lines above.")
            conn = self.local("postgres")
            try:
                if not db.scalar(conn, "SELECT pg_is_in_recovery()"):
                    return
            finally:
                conn.close()
            self.stopping.wait(1)
        raise FatalError(f"Recovery did not end within {timeout} s.")

    def start_repmgrd(self):
        self.repmgrd = subprocess.Popen(repmgr.daemon_argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env=self.env, text=True, errors="replace", start_new_session=True)
        self.repmgrd_started = time.monotonic()
        proc.forward_output(self.repmgrd, "repmgrd")

    def restart_repmgrd(self):
        """After pgcluster moved this node to another upstream: repmgrd must monitor that one."""
        self.stop_repmgrd()
        self.start_repmgrd()

    def watch_repmgrd(self):
        if self.repmgrd is None or self.repmgrd.poll() is None:
            return
        if time.monotonic() - self.repmgrd_started < 5:
            return
        logger.warning("repmgrd exited with code %s; starting it again.", self.repmgrd.returncode)
        self.start_repmgrd()

    def stop_repmgrd(self):
        """SIGTERM, then SIGKILL after 2 s: repmgrd keeps no state, and can hang in a name lookup."""
        if self.repmgrd is not None and self.repmgrd.poll() is None:
            self.repmgrd.terminate()
            try:
                self.repmgrd.wait(2)
            except subprocess.TimeoutExpired:
                self.repmgrd.kill()
                self.repmgrd.wait()
        self.repmgrd = None

    def serve_request(self):
        """Carry out `pgcluster node service start|stop|restart`, which repmgr runs instead of pg_ctl."""
        try:
            with open(REQUEST_FILE) as handle:
                request_id, action = handle.read().split()
        except (OSError, ValueError):
            return
        logger.info("repmgr asked to %s PostgreSQL.", action)
        if action == "restart" or (action == "start" and not self.server.running()):
            self.server.stop()
            self.start_server()
        elif action == "stop":
            logger.warning("Refused to stop PostgreSQL on request: stop the container instead.")
        with open(DONE_FILE, "w") as handle:
            handle.write(request_id)

    # --- role actions ------------------------------------------------------------------------
    def local(self, dbname=None):
        return postgres.local_connect(self.cfg.postgres_user, dbname or self.cfg.replication_db)

    def own_record(self):
        conn = self.local()
        try:
            found = db.rows(conn, "SELECT type, active, upstream_node_id FROM repmgr.nodes WHERE node_id = %s",
                            (self.cfg.node_id,))
        finally:
            conn.close()
        return found[0] if found else None

    def ensure_primary_registered(self):
        record = self.own_record()
        if record and record[0] == "primary" and record[1]:
            return
        repmgr.register_primary(self.cfg)
        logger.info("Registered this node with repmgr as the primary.")

    def node_id_of(self, host):
        answer = status.ask(host, self.cfg.status_port, timeout=2)
        if not answer or not answer.get("node_id"):
            raise FatalError(f"{host} did not answer with its node id; it must run pgcluster's status endpoint "
                             f"on port {self.cfg.status_port}.")
        return int(answer["node_id"])

    def clone(self, source):
        self.state = "cloning"
        upstream_id = self.node_id_of(source)
        if os.listdir(self.cfg.pgdata):
            logger.info("Removing the old data directory: a fresh copy replaces it.")
            postgres.clear_data_dir(self.cfg.pgdata)
        logger.info("Cloning the data directory from %s.", source)
        started = time.monotonic()
        repmgr.clone(self.cfg, source, upstream_id)
        logger.info("Cloned from %s in %.1f s.", source, time.monotonic() - started)
        self.start_server()
        repmgr.register_standby(self.cfg, upstream_id)
        logger.info("Registered this node with repmgr as a standby of %s.", source)

    def current_upstream(self):
        conn = self.local()
        try:
            return facts.host_of(db.scalar(conn, "SELECT current_setting('primary_conninfo')"))
        finally:
            conn.close()

    def ensure_following(self, target):
        """After a standby starts: register it if needed, and point it at target."""
        if target == self.cfg.host:
            return
        answer = status.ask(target, self.cfg.status_port, timeout=2)
        if not answer or not answer.get("node_id"):
            logger.info("Upstream %s does not answer yet; the standby keeps retrying it.", target)
            return
        target_id = int(answer["node_id"])
        if self.own_record() is None:
            repmgr.register_standby(self.cfg, target_id)
            logger.info("Registered this node with repmgr as a standby of %s.", target)
        if self.current_upstream() != target:
            repmgr.follow(self.cfg, target_id)
            logger.info("Now following %s.", target)  # before repmgrd starts: it monitors this upstream

    def rewind(self, source):
        """Turn a former primary into a standby of source: pg_rewind, or a fresh clone when that fails."""
        self.state = "rewinding"
        cfg = self.cfg
        source_id = self.node_id_of(source)
        try:
            if postgres.data_facts(cfg.pgdata)["state"] not in ("shut down", "shut down in recovery"):
                logger.info("Running crash recovery first, so pg_rewind finds a cleanly stopped data directory.")
                postgres.run_single_user_recovery(cfg.pgdata, self.env)
            conninfo = render.conninfo(host=source, port=cfg.upstream_port, user=cfg.replication_user,
                                       dbname=cfg.replication_db, connect_timeout=cfg.connect_timeout)
            conn = db.connect(source, cfg.upstream_port, cfg.replication_user, cfg.replication_db,
                              cfg.replication_password, timeout=cfg.connect_timeout)
            try:
                db.execute(conn, "CHECKPOINT", timeout=300)
            finally:
                conn.close()
            started = time.monotonic()
            proc.run([f"{paths.BINDIR}/pg_rewind", f"--target-pgdata={cfg.pgdata}", f"--source-server={conninfo}"],
                     timeout=3600, env=self.env, secrets=(cfg.replication_password,))
            logger.info("pg_rewind from %s finished in %.1f s.", source, time.monotonic() - started)
        except (CommandError, FatalError, psycopg2.Error) as exc:
            logger.warning("pg_rewind from %s failed (%s); cloning afresh instead.", source, str(exc).strip())
            self.clone(source)
            return
        # It streams from source at once: WAL written there during the rewind is needed for consistency.
        files.set_upstream(cfg.pgdata, files.primary_conninfo(cfg, source))
        slots = os.path.join(cfg.pgdata, "pg_replslot")
        for name in os.listdir(slots):  # the old primary's slots would hold WAL on a standby forever
            shutil.rmtree(os.path.join(slots, name))
        open(os.path.join(cfg.pgdata, "standby.signal"), "w").close()
        fenced = os.path.join(cfg.pgdata, paths.FENCED_MARKER)
        if os.path.exists(fenced):
            os.unlink(fenced)
        self.start_server()
        repmgr.follow(cfg, source_id)
        logger.info("Rejoined as a standby of %s.", source)


def request_service(action, timeout=120):
    """Ask the running supervisor to start/stop/restart PostgreSQL (repmgr's service_*_command)."""
    with open(PID_FILE) as handle:
        pid = int(handle.read())
    request_id = f"{os.getpid()}-{time.time()}"
    with open(REQUEST_FILE, "w") as handle:
        handle.write(f"{request_id} {action}")
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(DONE_FILE) as handle:
                if handle.read() == request_id:
                    return action != "stop"
        except OSError:
            pass
        time.sleep(0.2)
    raise FatalError(f"The supervisor did not finish '{action}' within {timeout} s.")
