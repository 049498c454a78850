"""Where a role change is carried out: each Decision of role.py becomes PostgreSQL running in that role.

Transitions.carry_out(decision) initialises, starts, clones, rewinds or
fences, and registers the node with repmgr; it leaves PostgreSQL running, or
raises CommandError, FatalError or psycopg2.Error (the supervisor then
decides again). report(state) tells the status endpoint what is under way.
"""
import logging
import os
import time

import psycopg2

from ..cluster.status import NodeState
from ..errors import CommandError, FatalError
from . import bootstrap, datadir, repmgr, restore
from .files import primary_conninfo
from .rewind import rewind
from .role import Action

logger = logging.getLogger(__name__)


class Transitions:
    def __init__(self, cfg, server, client, report, stopping, repmgr=repmgr, rewind=rewind):
        self.cfg, self.server, self.client, self.report, self.stopping = cfg, server, client, report, stopping
        self.repmgr, self.rewinder = repmgr, rewind

    def carry_out(self, decision):
        action, source = decision.action, decision.source
        if action is Action.INIT_PRIMARY:
            self.init_primary()
        elif action is Action.START_PRIMARY:
            self.start_primary()
        elif action is Action.CLONE:
            self.clone(source)
        elif action is Action.START_STANDBY:
            self.start_server()
            self.ensure_following(source)
        elif action is Action.REWIND:
            self.rewind(source)
        elif action is Action.REJOIN:
            self.rejoin(source)
        elif action is Action.FENCE:
            datadir.fence(self.cfg.pgdata)
            self.start_server()
            logger.warning("Fenced: PostgreSQL runs read-only until a majority of partners is visible again.")
        else:
            raise ValueError(f"no transition for {action}")

    # --- the server ---------------------------------------------------------------------------
    def start_server(self):
        self.report(NodeState.STARTING)
        self.server.start()
        self.server.wait_ready(self.cfg.postgres_user)
        logger.info("PostgreSQL accepts connections.")

    def wait_promoted(self, timeout=86400):
        """Wait until recovery ends (WAL replayed up to the target, then promotion)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.server.running():
                raise FatalError("PostgreSQL exited during recovery; see its log lines above.")
            if not self.server.in_recovery(self.cfg.postgres_user):
                return
            self.stopping.wait(1)
        raise FatalError(f"Recovery did not end within {timeout} s.")

    # --- the transitions ----------------------------------------------------------------------
    def init_primary(self):
        self.report(NodeState.INITIALISING)
        datadir.clear_incomplete(self.cfg.pgdata)
        bootstrap.init_primary(self.cfg)
        self.start_server()
        self.ensure_primary_registered()

    def start_primary(self):
        pgdata = self.cfg.pgdata
        if datadir.is_fenced(pgdata):
            datadir.unfence(pgdata)
            logger.info("Lifting the fence: nobody else was promoted, so this node resumes as primary.")
        self.start_server()
        self.wait_promoted()  # data restored from a backup replays WAL to its target first
        if datadir.is_restored(pgdata):
            restore.finish(pgdata)
            logger.info("The restored data reached its recovery target and this node was promoted.")
        self.ensure_primary_registered()

    def clone(self, source):
        self.report(NodeState.CLONING)
        upstream_id = self.node_id_of(source)
        if os.listdir(self.cfg.pgdata):
            logger.info("Removing the old data directory: a fresh copy replaces it.")
            datadir.clear(self.cfg.pgdata)
        logger.info("Cloning the data directory from %s.", source)
        started = time.monotonic()
        self.repmgr.clone(self.cfg, source, upstream_id)
        logger.info("Cloned from %s in %.1f s.", source, time.monotonic() - started)
        self.start_server()
        self.repmgr.register_standby(self.cfg, upstream_id)
        logger.info("Registered this node with repmgr as a standby of %s.", source)

    def rewind(self, source):
        """Turn a former primary into a standby of source: pg_rewind, or a fresh clone when that fails."""
        self.report(NodeState.REWINDING)
        source_id = self.node_id_of(source)
        try:
            self.rewinder(self.cfg, source)
        except (CommandError, FatalError, psycopg2.Error) as exc:
            logger.warning("pg_rewind from %s failed (%s); cloning afresh instead.", source, str(exc).strip())
            self.clone(source)
            return
        self.start_server()
        self.repmgr.follow(self.cfg, source_id)
        logger.info("Rejoined as a standby of %s.", source)

    def rejoin(self, source):
        """A former primary stopped cleanly (a switchover): its WAL ends where source's timeline began, so it
        streams from source as it is; should it not be able to follow (it diverged), rewind."""
        source_id = self.node_id_of(source)
        datadir.become_standby(self.cfg.pgdata, primary_conninfo(self.cfg, source))
        self.start_server()
        try:
            self.repmgr.follow(self.cfg, source_id)
        except CommandError as exc:
            logger.warning("Following %s after the switchover failed (%s); rewinding instead.", source, exc)
            self.server.stop()
            self.rewind(source)
            return
        logger.info("Rejoined as a standby of %s after a clean stop.", source)

    # --- registration with repmgr --------------------------------------------------------------
    def ensure_primary_registered(self):
        record = self.repmgr.record(self.cfg)
        if record and record[0] == "primary" and record[1]:
            return
        self.repmgr.register_primary(self.cfg)
        logger.info("Registered this node with repmgr as the primary.")

    def node_id_of(self, host):
        answer = self.client.ask(host, timeout=2)
        if not answer.node_id:
            raise FatalError(f"{host} did not answer with its node id; it must run pgcluster's status endpoint "
                             f"on port {self.cfg.status_port}.")
        return answer.node_id

    def ensure_following(self, target):
        """After a standby starts: register it if needed, and point it at target."""
        if target == self.cfg.host:
            return
        answer = self.client.ask(target, timeout=2)
        if not answer.node_id:
            logger.info("Upstream %s does not answer yet; the standby keeps retrying it.", target)
            return
        if self.repmgr.record(self.cfg) is None:
            self.repmgr.register_standby(self.cfg, answer.node_id)
            logger.info("Registered this node with repmgr as a standby of %s.", target)
        if self.repmgr.upstream(self.cfg) != target:
            self.repmgr.follow(self.cfg, answer.node_id)
            logger.info("Now following %s.", target)  # before repmgrd starts: it monitors this upstream
