"""Attach backends that came back, detach fenced ones, weigh lagging ones out: pgpool follows the primary.

pgpool marks a backend down when it stops answering and never takes it back by
itself. The watcher asks every node's status endpoint, and decides (a pure
function) which backends to attach: the running primary, and standbys that
stream from it. A node that follows anyone else is never attached, and a node
that fenced itself is detached, so no read or write reaches a stale or false
primary.

The watcher also keeps new sessions off a standby that lags: one more than
delay_threshold bytes of WAL behind the primary gets load-balance weight 0 (a
rewritten pgpool.conf and a reload, which ends no session), and its configured
weight back once it is within half of that. pgpool's own lag check (its
streaming replication worker, sr_check_period) stays off: it queries the
backends without a deadline while holding a lock that failover needs, so a
single frozen backend stopped pgpool from ever finding the new primary. Here
every query has a deadline.

pgpool-II handles one request at a time, and a request that leaves it
without a primary (the primary detached, or a standby attached while no
primary is) makes it search the attached backends for one, every second, for
search_primary_node_timeout; every other request waits behind that search.
Attaching standbys before the primary made each of them such a search, one
after another, so writes stopped for minutes after the primary came back. So
while pgpool does not have the running primary attached, the watcher attaches
the primary alone; and should pgpool have the running primary attached but
count no primary for longer than its search takes (the search ran out before
a promotion), the watcher tells pgpool which node is primary (pcp_promote_node,
which promotes nothing in PostgreSQL).

A backend that freezes (a hung host, `docker pause`) is never marked down by
pgpool-II 4.6 itself: its health check waits on the frozen connection without
end (its timeout no longer interrupts the read). So the watcher detaches a
backend pgpool still counts as up once its status endpoint has been silent
for SILENT_AFTER seconds, and a primary pgpool still writes to once the
cluster's answers show another running primary. Detaching pgpool's primary
starts the search for a primary, and the search's connection to a frozen
backend waits without end, so a frozen host (its primary and a standby
stopped at once) stopped pgpool until the host thawed. So when pgpool's
primary is detached, every other attached backend that does not answer now
is detached before it, and the primary last.
"""
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor, wait

import psycopg2

from .. import db
from ..cluster.endpoint import Client
from ..cluster.primary import find_primary
from . import files, pcp
from .settings import delay_threshold

logger = logging.getLogger(__name__)

# Like the status asks, a WAL position query is abandoned at its deadline (name lookups ignore it).
_queries = ThreadPoolExecutor(max_workers=8, thread_name_prefix="wal")
POSITION = ("SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)"
            " - '0/0'::pg_lsn")
SILENT_AFTER = 4.0  # seconds without a status answer before a backend pgpool counts as up is detached
UNRECOGNISED_AFTER = 3.0  # seconds pgpool counts no primary, with the running one attached, before it is told
DOING = {"attach": "attaching it", "detach": "detaching it", "weigh_out": "sending it no new sessions",
         "weigh_in": "sending it new sessions again", "recognise": "making it pgpool's primary"}


def decide(nodes, statuses, lags=None, threshold=0, weights=None, silent=None, unrecognised=0.0):
    """[(action, num, reason)] for pgpool's nodes {num: PoolNode} and the nodes' answers {host: NodeStatus}.

    Actions: attach, detach, recognise (make it pgpool's primary), and for lag weigh_out (weight 0) and
    weigh_in (the configured weight again). lags: {host: bytes of WAL a standby has still to replay},
    measured now; a host without one is not judged by lag. threshold: delay_threshold in bytes; 0 turns
    the lag rule off. weights: the configured weight of each num (BACKENDS). silent: {host: seconds since
    its status endpoint last answered}, for the hosts that do not answer now. unrecognised: seconds for
    which pgpool has counted no primary although the running primary is attached (see unrecognised()).
    """
    found = find_primary(statuses.values())
    primary = found.host if found else None
    lags, weights, silent = lags or {}, weights or {}, silent or {}
    # Standbys wait until pgpool has the primary: attaching one first makes pgpool search for a primary.
    primary_attached = any(n.host == primary and n.status == "up" for n in nodes.values())
    actions = []
    for num, node in sorted(nodes.items()):
        answer = statuses.get(node.host)
        host = node.host
        if node.status == "up" and node.role == "primary" and primary and host != primary:
            actions.append(("detach", num, f"{primary} is the running primary, not {host}"))
            continue
        if answer is None or not answer.reachable:
            if node.status == "up" and silent.get(host, 0.0) > SILENT_AFTER:
                actions.append(("detach", num, f"{host} has not answered for {silent[host]:.0f} s"))
            continue
        lag = lags.get(host) if threshold and host != primary else None
        caught_up = lag is None or lag <= threshold // 2
        behind = f"{host} is {lag} bytes of WAL behind the primary {primary}"
        if node.status == "down":
            if not primary or not answer.running or answer.fenced:
                continue
            if host == primary:
                actions.append(("attach", num, f"{primary} is the running primary"))
            elif answer.streams_from_primary(primary) and caught_up and primary_attached:
                actions.append(("attach", num, f"{host} streams from the primary {primary}"))
        elif host == primary and unrecognised > UNRECOGNISED_AFTER:
            actions.append(("recognise", num, f"{host} is the running primary and pgpool has counted no "
                                              f"primary for {unrecognised:.0f} s"))
        elif answer.fenced:
            actions.append(("detach", num, f"{host} has fenced itself"))
        elif lag is not None and lag > threshold and node.weight:
            actions.append(("weigh_out", num, f"{behind}, more than delay_threshold ({threshold})"))
        elif zeroed(node, weights.get(num)) and host == primary:
            actions.append(("weigh_in", num, f"{host} is the primary now"))
        elif zeroed(node, weights.get(num)) and lag is not None and caught_up:
            actions.append(("weigh_in", num, f"{behind}, within half of delay_threshold ({threshold})"))
    return primary_detached_last(nodes, actions, silent)


def primary_detached_last(nodes, actions, silent):
    """actions with pgpool's primary detached after every other attached backend that does not answer now
    (detaching the primary makes pgpool search the attached backends, and a frozen one holds the search),
    and the attaches after the detaches."""
    detaching = {num for action, num, _ in actions if action == "detach"}
    old = {num for num in detaching if nodes[num].role == "primary"}
    if not old:
        return actions
    first = [("detach", num, f"{node.host} does not answer either, and pgpool's search for a new primary "
                             f"would wait on it") for num, node in sorted(nodes.items())
             if num not in detaching and node.status == "up" and node.host in silent]
    detaches = [a for a in actions if a[0] == "detach"]
    return (first + [a for a in detaches if a[1] not in old] + [a for a in detaches if a[1] in old]
            + [a for a in actions if a[0] != "detach"])


def pgpool_primaryless(nodes, statuses):
    """Whether pgpool counts no primary although the running primary is attached."""
    found = find_primary(statuses.values())
    return bool(found) and not any(n.status == "up" and n.role == "primary" for n in nodes.values()) \
        and any(n.host == found.host and n.status == "up" for n in nodes.values())


def zeroed(node, configured):
    """Whether pgpool weighs the node 0 although BACKENDS gives it weight: the watcher's doing."""
    return not node.weight and bool(configured)


def weighed_out(nodes, weights, actions):
    """The nums that are to have weight 0 once actions are applied: those zeroed now, plus weigh_out,
    minus weigh_in."""
    out = {num for num, node in nodes.items() if zeroed(node, weights.get(num))}
    out |= {num for action, num, _ in actions if action == "weigh_out"}
    return out - {num for action, num, _ in actions if action == "weigh_in"}


def wal_position(cfg, host, port, timeout):
    """The primary's current WAL position or a standby's replayed one, in bytes; None when it does not say."""
    try:
        conn = db.connect(host=host, port=port, user=cfg.check_user, password=cfg.check_password,
                          dbname="postgres", timeout=timeout, application_name="pgcluster-watcher")
        try:
            position = db.scalar(conn, POSITION, timeout=timeout)
        finally:
            conn.close()
    except psycopg2.Error:
        return None
    return None if position is None else int(position)


def lags(cfg, primary, hosts, timeout=1.0):
    """{host: bytes of WAL each standby in hosts has still to replay}; a host that did not answer in time
    is left out, and all are when the primary did not."""
    ports = {b.host: b.port for b in cfg.backends}
    futures = {h: _queries.submit(wal_position, cfg, h, ports[h], timeout) for h in {primary, *hosts}}
    done, _late = wait(futures.values(), timeout=timeout + 2.5)  # libpq connects for 2 s at least
    positions = {h: f.result() for h, f in futures.items() if f in done and f.result() is not None}
    if primary not in positions:
        return {}
    return {h: max(0, positions[primary] - positions[h]) for h in hosts if h in positions}


class Watcher:
    """One round every WATCH_EVERY seconds in the router process: look, decide, act.

    pcp, client and measure (lags) are the real ones unless a test gives fakes.
    """

    def __init__(self, cfg, pgpool_pid, pcp=pcp, client=None, measure=lags, clock=time.monotonic, pgbouncer=None):
        self.cfg, self.pgpool_pid = cfg, pgpool_pid
        self.pcp, self.client, self.measure, self.clock = pcp, client or Client(cfg.status_port), measure, clock
        self.pgbouncer = pgbouncer
        self.answered = {}  # host -> when its status endpoint last answered
        self.primaryless_since = None  # when pgpool was first seen counting no primary, the running one attached

    def silent(self, statuses):
        """{host: seconds since it last answered} for the hosts that did not answer now."""
        now = self.clock()
        for host, answer in statuses.items():
            if answer.reachable or host not in self.answered:
                self.answered[host] = now
        return {h: now - self.answered[h] for h, a in statuses.items() if not a.reachable}

    def unrecognised(self, nodes, statuses):
        """Seconds for which pgpool has counted no primary although the running primary is attached."""
        if not pgpool_primaryless(nodes, statuses):
            self.primaryless_since = None
            return 0.0
        now = self.clock()
        self.primaryless_since = self.primaryless_since or now
        return now - self.primaryless_since

    def tick(self):
        cfg = self.cfg
        nodes = self.pcp.nodes(cfg)
        statuses = self.client.ask_all(sorted({n.host for n in nodes.values()}))
        silent = self.silent(statuses)
        unrecognised = self.unrecognised(nodes, statuses)
        threshold = delay_threshold(cfg)
        found = find_primary(statuses.values())
        standbys = [h for h, s in statuses.items() if s.is_standby]
        measured = self.measure(cfg, found.host, standbys) if threshold and found and standbys else {}
        weights = {b.num: b.weight for b in cfg.backends}
        actions = decide(nodes, statuses, measured, threshold, weights, silent, unrecognised)
        for action, num, reason in actions:
            logger.info("Backend %s (%s): %s, because %s.", num, nodes[num].host, DOING[action], reason)
            if action in ("attach", "detach", "recognise"):
                getattr(self.pcp, action)(cfg, num)
            if action == "recognise":
                self.primaryless_since = None
        if any(action.startswith("weigh") for action, _, _ in actions):
            files.write_all(cfg, weighed_out(nodes, weights, actions))
            self.reload()
        if self.pgbouncer and found:
            out = weighed_out(nodes, weights, actions)
            readers = sorted(node.host for num, node in nodes.items() if num not in out and node.host != found.host
                             and statuses.get(node.host) and statuses[node.host].streams_from_primary(found.host))
            self.pgbouncer.retarget(found.host, readers, f"{found.host} is the running primary")
        return actions

    def reload(self):
        """pgpool's main process reads pgpool.conf again on SIGHUP; no session ends."""
        os.kill(self.pgpool_pid, signal.SIGHUP)
