"""A node's part in a switchover, asked through the control channel (cluster/control.py).

lease    the cluster-wide switchover lock: granted unless another owner holds an unexpired one. While
         it is held, this node's repmgrd is paused, and the takeover and healing duties move nothing.
unlease  gives it back (it also ends by itself when it expires).
demote   the primary stops taking writes: a fast shutdown, during which its walsenders send every WAL
         record to the streaming standbys; then it holds, stopped, until rejoin or resume. Answers the
         position of its shutdown checkpoint.
promote  a standby waits until it has replayed up to a position (bounded), then promotes itself.
follow   a standby streams from another node from now on.
rejoin   the held former primary starts as a standby of the new primary (no rewind after a clean stop).
resume   the held former primary starts as primary again: the switchover was abandoned.

Requests other than the lease are carried out by the supervisor's own thread, between its duties;
the HTTP thread waits for the answer.
"""
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import psycopg2

from .. import db
from ..cluster import control
from ..cluster.lsn import parse_lsn
from ..errors import CommandError, Redecide
from . import datadir, repmgr
from .role import Action, Decision

logger = logging.getLogger(__name__)


@dataclass
class Request:
    action: str
    body: dict
    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple = (500, {"error": "not carried out"})

    def reply(self, status, answer):
        self.answer = (status, answer)
        self.done.set()


class Control:
    def __init__(self, node):
        self.node = node
        self.lock = threading.Lock()
        self.lease = None  # (owner, monotonic expiry)
        self.requests = queue.Queue()
        self.held = None   # the demote request whose answer waits until PostgreSQL has stopped

    # --- the HTTP thread ----------------------------------------------------------------------
    def routes(self):
        actions = {"lease": self.take_lease, "unlease": self.give_lease}
        actions.update({name: self.queued(name) for name in ("demote", "promote", "follow", "rejoin", "resume")})
        return control.route(self.node.cfg.control_password, actions, self.node.cfg.node_name)

    def queued(self, name):
        def handle(body):
            if not self.owns(body.get("owner")):
                return 409, {"error": "the switchover lease is not held by this request's owner"}
            request = Request(name, body)
            self.requests.put(request)
            self.node.wakeup.set()
            if not request.done.wait(float(body.get("timeout", 30)) + 60):
                return 504, {"error": f"{name} did not finish in time"}
            return request.answer
        return handle

    def take_lease(self, body):
        owner, seconds = body.get("owner"), float(body.get("seconds", 60))
        with self.lock:
            if self.lease and self.lease[0] != owner and self.lease[1] > time.monotonic():
                return 409, {"error": f"another switchover ({self.lease[0]}) holds the lock"}
            self.lease = (owner, time.monotonic() + seconds)
        self.pause_repmgrd(True)
        logger.info("Switchover %s holds the cluster lock for %.0f s: repmgrd and the takeover stand by.", owner,
                    seconds)
        return 200, {"node": self.node.cfg.node_name}

    def give_lease(self, body):
        with self.lock:
            if not self.lease or self.lease[0] != body.get("owner"):
                return 200, {}
            self.lease = None
        self.pause_repmgrd(False)
        logger.info("Switchover %s gave back the cluster lock.", body.get("owner"))
        return 200, {}

    def owns(self, owner):
        with self.lock:
            return bool(self.lease and self.lease[0] == owner and self.lease[1] > time.monotonic())

    def leased(self):
        """Whether a switchover holds the lock now; an expired lease is dropped here."""
        with self.lock:
            if self.lease and self.lease[1] <= time.monotonic():
                logger.warning("Switchover %s's lock expired; failover duties resume.", self.lease[0])
                self.lease = None
                expired = True
            else:
                expired = False
        if expired:
            self.pause_repmgrd(False)
        return self.lease is not None

    def pause_repmgrd(self, paused):
        try:
            conn = self.node.local()
            try:
                db.execute(conn, "SELECT repmgr.repmgrd_pause(%s)", (paused,))
            finally:
                conn.close()
        except psycopg2.Error:
            pass  # PostgreSQL is down: its repmgrd neither fails over nor needs pausing

    # --- the supervisor's thread --------------------------------------------------------------
    def serve(self, live):
        """Carry out the queued requests (raises Redecide for demote)."""
        while True:
            try:
                request = self.requests.get_nowait()
            except queue.Empty:
                return
            try:
                getattr(self, request.action)(request, live)
            except Redecide:
                raise
            except (CommandError, psycopg2.Error) as exc:
                request.reply(500, {"error": str(exc).strip()})
            except Exception as exc:  # answered, and logged once
                logger.exception("Switchover request %s failed: %s", request.action, exc)
                request.reply(500, {"error": str(exc)})

    def demote(self, request, live):
        if not live or live.role != "primary":
            request.reply(409, {"error": "this node is not the primary"})
            return
        self.held = request
        why = "a switchover moves the primary elsewhere; stopping cleanly so every standby has all of its WAL"
        logger.info("Switchover: %s.", why)
        raise Redecide(why, decision=Decision(Action.HOLD, why))

    def answer_demoted(self):
        """Once PostgreSQL has stopped: the shutdown checkpoint's position, to the waiting demote."""
        facts = datadir.controldata(self.node.cfg.pgdata)
        self.held.reply(200, {"lsn": facts.get("Latest checkpoint location", ""),
                              "timeline": int(facts.get("Latest checkpoint's TimeLineID") or 0)})
        self.held = None

    def hold(self):
        """While stopped after demote: the decision a rejoin or resume request brings, or None when the lease
        ends first (the node then decides its role as after any stop)."""
        while self.leased():
            try:
                request = self.requests.get(timeout=0.5)
            except queue.Empty:
                continue
            if request.action == "rejoin":
                request.reply(200, {})
                return Decision(Action.REJOIN, f"a switchover made {request.body['to']} the primary; following "
                                               f"it", request.body["to"])
            if request.action == "resume":
                request.reply(200, {})
                return Decision(Action.START_PRIMARY, "the switchover was abandoned; this node stays the primary")
            request.reply(409, {"error": "this node is stopped for a switchover"})
        return None

    def promote(self, request, live):
        target, deadline = parse_lsn(request.body["lsn"]), time.monotonic() + float(request.body.get("timeout", 30))
        while True:  # past the shutdown checkpoint's start: its record itself has been replayed
            replayed = self.replayed()
            if replayed is not None and replayed > target:
                break
            if time.monotonic() > deadline:
                request.reply(409, {"error": f"replayed up to {replayed} only, not {request.body['lsn']}"})
                return
            time.sleep(0.05)
        repmgr.promote(self.node.cfg)
        self.node.repmgrd.restart()
        logger.info("Switchover: promoted after replaying all of the former primary's WAL (%s).", request.body["lsn"])
        request.reply(200, {})

    def replayed(self):
        conn = self.node.local()
        try:
            return parse_lsn(db.scalar(conn, "SELECT pg_last_wal_replay_lsn()::text"))
        finally:
            conn.close()

    def follow(self, request, live):
        answer = self.node.client.ask(request.body["to"], timeout=2)
        if not answer.node_id:
            request.reply(409, {"error": f"{request.body['to']} does not answer with its node id"})
            return
        repmgr.follow(self.node.cfg, answer.node_id)
        self.node.repmgrd.restart()
        logger.info("Switchover: now streaming from the new primary %s.", request.body["to"])
        request.reply(200, {})

    def rejoin(self, request, live):
        request.reply(409, {"error": "this node was not demoted"})

    resume = rejoin
