"""`pgcluster switchover`: move the primary to a standby on purpose, without SSH and without failed transactions
through PgBouncer.

1. Check: the target is a running first-level standby with priority > 0 that streams from the primary.
2. Lock: every first-level node grants the cluster-wide switchover lease (repmgrd and the takeover stand by).
3. Pause PgBouncer on every router: running transactions finish, new queries wait.
4. Demote: the primary stops cleanly; its walsenders send every WAL record first. Its shutdown checkpoint is
   the position the target must reach.
5. Promote: the target waits until it has replayed that position (bounded by --timeout), then promotes.
   Should it not get there in time, the old primary starts as primary again, PgBouncer resumes, and the
   switchover ends there (exactly one writable primary, the old one).
6. Point PgBouncer at the new primary and have pgpool detach the old one (so that it finds the new one at
   once), have the other first-level standbys follow it (strict mode's commits wait for one), and resume
   PgBouncer: clients saw a pause, not an error.
7. The old primary rejoins as a standby of the new one; the lease is given back. pgpool's watcher attaches
   it once it streams; Barman's stream follows the timeline change, and it takes a new base backup.

Every step goes through the control channel (cluster/control.py), authenticated with CONTROL_PASSWORD.
"""
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from .cluster.control import ControlError, call
from .cluster.endpoint import ask_all
from .cluster.primary import find_primary
from .errors import PgclusterError

logger = logging.getLogger(__name__)

LEASE = 60.0        # seconds the lock lasts should this command die half-way
PAUSE_LEASE = 30.0  # seconds PgBouncer stays paused, at most
PAUSE_TIMEOUT = 5.0  # seconds a router may take to pause (its running transactions finish)


class SwitchoverError(PgclusterError):
    """A refusal or an abandoned switchover; the message says why and which node is the primary."""


def choose(statuses, to=None):
    """(primary, target) NodeStatus; SwitchoverError naming the reason when the switchover may not start."""
    primary = find_primary(statuses.values())
    if primary is None:
        raise SwitchoverError("there is no single running primary to switch over from; not switching over.")
    voters = primary.voters or tuple(statuses)
    busy = [s.host for s in statuses.values() if s.state.value in ("promoting", "resuming", "held", "fenced")]
    if busy:
        raise SwitchoverError(f"{', '.join(busy)} is in the middle of a failover or switchover; not switching over.")
    candidates = [s for s in statuses.values() if s.host in voters and s.host != primary.host]
    if to is None:
        ready = [s for s in candidates if s.streams_from_primary(primary.host) and s.priority > 0]
        if not ready:
            raise SwitchoverError(f"no first-level standby streams from {primary.host}; not switching over.")
        to = max(ready, key=lambda s: (s.lsn, s.priority, -s.node_id)).host
    target = statuses.get(to)
    if target is None or not target.reachable:
        raise SwitchoverError(f"{to} does not answer; not switching over.")
    if to == primary.host:
        raise SwitchoverError(f"{to} is the primary already; not switching over.")
    if to not in voters:
        raise SwitchoverError(f"{to} is not a first-level standby (it is not in PARTNER_NODES, so it may stream "
                              f"through another standby); not switching over.")
    if target.priority == 0:
        raise SwitchoverError(f"{to} has NODE_PRIORITY 0, so it is never promoted; not switching over.")
    if not target.streams_from_primary(primary.host):
        raise SwitchoverError(f"{to} does not stream from the primary {primary.host} ({target.state.value}); "
                              f"not switching over.")
    return primary, target


class Switchover:
    def __init__(self, nodes, routers, port, secret, say=print):
        self.nodes, self.routers, self.port, self.secret, self.say = tuple(nodes), tuple(routers), port, secret, say
        self.owner = uuid.uuid4().hex[:12]
        self.pool = ThreadPoolExecutor(max_workers=8)

    def each(self, hosts, action, **payload):
        """Call action on every host at once; ControlError of the first that refuses."""
        futures = [self.pool.submit(call, host, self.port, self.secret, action, owner=self.owner, **payload)
                   for host in hosts]
        for future in futures:
            future.result()

    def step(self, sentence):
        logger.info("Switchover %s: %s.", self.owner, sentence)
        self.say(f"switchover: {sentence}")

    def run(self, to=None, timeout=30.0):
        """Move the primary; returns the summary sentence, or raises SwitchoverError."""
        statuses = ask_all(self.nodes, self.port, timeout=2)
        primary, target = choose(statuses, to)
        voters = [h for h in (primary.voters or self.nodes) if statuses.get(h) and statuses[h].reachable]
        others = [h for h in voters if h not in (primary.host, target.host)
                  and statuses[h].streams_from_primary(primary.host)]
        leased = []
        try:
            for host in voters:
                call(host, self.port, self.secret, "lease", owner=self.owner, seconds=LEASE)
                leased.append(host)
        except ControlError as exc:
            self.release(leased)
            raise SwitchoverError(f"{exc}; not switching over, {primary.host} stays the primary.") from None
        self.step(f"{primary.host} hands over to {target.host}; the cluster lock is held")
        try:
            return self.move(primary.host, target.host, others, timeout)
        finally:
            self.release(leased)

    def release(self, hosts):
        for host in hosts:
            try:
                call(host, self.port, self.secret, "unlease", owner=self.owner)
            except ControlError as exc:
                logger.warning("Giving back the switchover lock on %s failed: %s (it expires by itself).", host, exc)

    def move(self, old, new, others, timeout):
        try:
            self.each(self.routers, "pause", seconds=PAUSE_LEASE, timeout=PAUSE_TIMEOUT)
        except ControlError as exc:
            self.each_quietly(self.routers, "resume")
            raise SwitchoverError(f"{exc}; not switching over, {old} stays the primary.") from None
        paused_at = time.monotonic()
        self.step("PgBouncer is paused on " + (", ".join(self.routers) or "no router"))
        try:
            demoted = call(old, self.port, self.secret, "demote", owner=self.owner)
        except ControlError as exc:
            self.each_quietly(self.routers, "resume")
            raise SwitchoverError(f"{exc}; {old} stays the primary.") from None
        self.step(f"{old} stopped cleanly at {demoted['lsn']}; waiting for {new} to replay up to it")
        try:
            call(new, self.port, self.secret, "promote", deadline=timeout + 90, owner=self.owner, lsn=demoted["lsn"],
                 timeout=timeout)
        except ControlError as exc:
            call(old, self.port, self.secret, "resume", owner=self.owner)
            self.each_quietly(self.routers, "resume")
            raise SwitchoverError(f"{exc}; abandoned: {old} is the primary again.") from None
        self.step(f"{new} is the primary")
        self.each_quietly(self.routers, "retarget", primary=new, old=old)
        following = self.pool.submit(self.each_quietly, others, "follow", to=new)  # strict commits wait for one
        self.each_quietly(self.routers, "resume")
        pause = time.monotonic() - paused_at
        self.step(f"PgBouncer resumed after a pause of {pause:.2f} s")
        following.result()
        try:
            call(old, self.port, self.secret, "rejoin", owner=self.owner, to=new)
        except ControlError as exc:
            logger.warning("Switchover %s: %s did not take the rejoin (%s); it rejoins on its own.", self.owner, old,
                           exc)
        return f"{new} is the primary, {old} rejoins as its standby; writes paused for {pause:.2f} s."

    def each_quietly(self, hosts, action, **payload):
        """Like each, but a host that refuses is logged and the switchover goes on."""
        futures = {host: self.pool.submit(call, host, self.port, self.secret, action, owner=self.owner, **payload)
                   for host in hosts}
        for host, future in futures.items():
            try:
                future.result()
            except ControlError as exc:
                logger.warning("Switchover %s: %s on %s failed: %s.", self.owner, action, host, exc)
