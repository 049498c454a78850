"""Faults in sequence: a seeded schedule of real failures against one cluster, judged from the client's side.

A writer inserts through the routers and remembers every acknowledged commit; a sampler asks every node
once a second whether it accepts writes (through its published port, or inside the container for a node
cut off from the network); faults from a seeded schedule hit the primary, a first-level standby, the
cascade's upstream, the router, the backup container, one node's repmgrd or the whole machine's CPU,
each healed after a random hold. After each fault: the time to the next acknowledged write, and the time
until the cluster has converged again (every container healthy, every standby streaming from the
primary, the router writing to it). At the end: acknowledged rows missing on the final primary, and every
sample that saw two writable nodes. bench/chaos runs it for minutes; tests/e2e/test_soak.py runs a short
seeded schedule with every kind of fault.
"""
import os
import random
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass

import psycopg2

from .cluster import ALL_SERVICES, NODE_NAMES, ROUTERS, SERVICES, wait_for
from .writer import Writer

FIRST_LEVEL = ("pgmaster", "pgslave1", "pgslave3")
CASCADE_UPSTREAM = "pgslave1"  # pgslave2 streams from it while it is a standby
NO_WRITE_AFTER = 120.0
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"  # the host's client


@dataclass
class Fault:
    kind: str          # the FAULTS key
    hold: float        # seconds before it is healed
    quick: bool = False  # starts 1-2 s after the previous fault healed, before the cluster converged
    second: str = ""   # a second fault (a FAULTS key) inflicted before this one heals
    # Filled in when it runs:
    target: str = ""
    started: float = 0.0
    to_write_s: float = None
    converge_s: float = None
    primary_before: str = ""
    primary_after: str = ""


# kind: (which service it hits, how it is inflicted, how it is healed)
FAULTS = {
    "kill-primary": ("primary", "kill", "start"),
    "pause-primary": ("primary", "pause", "unpause"),
    "cut-primary": ("primary", "disconnect", "reconnect"),
    "kill-standby": ("standby", "kill", "start"),
    "pause-standby": ("standby", "pause", "unpause"),
    "cut-standby": ("standby", "disconnect", "reconnect"),
    "kill-cascade-upstream": ("cascade-upstream", "kill", "start"),
    "pause-cascade-upstream": ("cascade-upstream", "pause", "unpause"),
    "cut-cascade-upstream": ("cascade-upstream", "disconnect", "reconnect"),
    "kill-router": ("pgpool", "kill", "start"),
    "kill-backup": ("backup", "kill", "start"),
    "stop-repmgrd": ("standby", "stop_repmgrd", "cont_repmgrd"),
    "saturate": ("machine", "saturate", "unsaturate"),
}
# Second faults that leave a majority of the first-level nodes able to recover: none hits another voter's
# PostgreSQL.
SECOND = ("kill-router", "kill-backup", "stop-repmgrd")


def schedule(seed, minutes=None, every_kind=False):
    """The seeded list of faults: every kind once in a seeded order (every_kind), or more random faults than
    `minutes` can hold (a fault and its heal take 10-25 s; the run stops at its deadline). A longer list starts
    with the shorter one's faults: a seed names the same sequence at every length."""
    rng = random.Random(seed)
    kinds = list(FAULTS)
    if every_kind:
        rng.shuffle(kinds)
        faults = [Fault(kind, hold=rng.uniform(5, 10)) for kind in kinds]
        faults.append(Fault("pause-primary", hold=rng.uniform(5, 10), quick=True))  # right after a heal
        faults.append(Fault("kill-primary", hold=rng.uniform(5, 10), second="stop-repmgrd"))
        return faults
    faults = []
    for _ in range(int(minutes * 6)):
        kind = rng.choice(kinds)
        faults.append(Fault(kind, hold=rng.uniform(5, 25), quick=rng.random() < 0.1,
                            second=rng.choice(SECOND) if kind.endswith("-primary") and rng.random() < 0.15 else ""))
    return faults


class Sampler(threading.Thread):
    """Once a second, how many nodes accept writes; every sample with more than one is kept."""

    def __init__(self, cluster, chaos):
        super().__init__(daemon=True)
        self.cluster, self.chaos = cluster, chaos
        self.samples = 0
        self.two_writable = []
        self.halt = threading.Event()

    def writable(self, service):
        if service in self.chaos.paused or service in self.chaos.down:
            return False  # frozen or killed: it acknowledges nothing
        try:
            if service in self.chaos.cut:
                out = self.cluster.psql(service, "SELECT NOT pg_is_in_recovery()", timeout=3)
                return out.returncode == 0 and out.stdout.strip() == "t"
            return bool(self.cluster.query(service, "SELECT NOT pg_is_in_recovery()", timeout=1)[0][0])
        except (psycopg2.Error, AssertionError, OSError, subprocess.SubprocessError):
            return False

    def run(self):
        while not self.halt.wait(1.0):
            found = {}
            threads = [threading.Thread(target=lambda s=s: found.__setitem__(s, self.writable(s)), daemon=True)
                       for s in SERVICES]
            for t in threads:
                t.start()
            for t in threads:
                t.join(4)
            self.samples += 1
            writable = sorted(s for s, yes in found.items() if yes)
            if len(writable) > 1:
                self.two_writable.append((round(time.monotonic() - self.chaos.began, 1), writable))

    def stop(self):
        self.halt.set()
        self.join(10)


class Chaos:
    def __init__(self, cluster, routers=ROUTERS, log=print):
        self.cluster, self.routers, self.log = cluster, routers, log
        self.paused, self.cut, self.down = set(), set(), set()
        self.hogs, self.pgbench = [], None
        self.began = time.monotonic()

    # --- the faults ---------------------------------------------------------------------------------
    def target(self, who, primary):
        if who == "primary":
            return primary
        if who == "standby":
            return next(s for s in ("pgslave3", "pgslave1", "pgmaster") if s != primary)
        if who == "cascade-upstream":
            return CASCADE_UPSTREAM if primary != CASCADE_UPSTREAM else "pgslave3"
        return who

    def act(self, how, service):
        c = self.cluster
        if how in ("kill", "pause", "disconnect", "start", "unpause", "reconnect"):
            getattr(c, how)(service)
            {"pause": self.paused.add, "unpause": self.paused.discard, "disconnect": self.cut.add,
             "reconnect": self.cut.discard, "kill": self.down.add, "start": self.down.discard}[how](service)
        elif how in ("stop_repmgrd", "cont_repmgrd"):
            c.exec(service, "pkill", "-STOP" if how == "stop_repmgrd" else "-CONT", "-x", "repmgrd", check=False)
        elif how == "saturate":
            self.saturate()
        elif how == "unsaturate":
            self.unsaturate()

    def saturate(self):
        """Many pgbench clients on the primary's port, and a busy loop per core in containers of their own."""
        c = self.cluster
        env = dict(os.environ, PGPASSWORD=c.password)
        self.pgbench = subprocess.Popen([PGBENCH, "-n", "-S", "-c", "32", "-j", "2", "-T", "600", "-h", "127.0.0.1",
                                         "-p", str(c.port(self.primary())), "-U", "postgres", "app"],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(os.cpu_count() or 2):
            name = f"{c.project}_hog{i}"
            c.docker("rm", "-f", name, check=False)
            c.docker("run", "-d", "--rm", "--name", name, "debian:trixie-slim", "sh", "-c", "while :; do :; done")
            self.hogs.append(name)

    def unsaturate(self):
        for name in self.hogs:
            self.cluster.docker("rm", "-f", name, check=False)
        self.hogs = []
        if self.pgbench:
            self.pgbench.kill()
            self.pgbench.wait()
            self.pgbench = None

    def primary(self):
        writable = self.cluster.writable()
        return writable[0] if len(writable) == 1 else "pgmaster"

    # --- convergence ----------------------------------------------------------------------------------
    def converged(self):
        """The primary once every container is healthy, the tree whole and each router writes to it; otherwise
        None, with what is still missing in self.unconverged."""
        c = self.cluster
        sick = c.unhealthy(ALL_SERVICES)
        if sick:
            return self.missing("not healthy: " + ", ".join(sick))
        primary = c.tree_is_whole()
        if not primary:
            return self.missing(f"no single tree: writable {c.writable()}")
        for router in self.routers:
            try:
                took = c.write_via(router)
            except psycopg2.Error as exc:
                return self.missing(f"a write through {router} failed: {str(exc).strip()}")
            if took != NODE_NAMES[primary]:
                return self.missing(f"{router} writes to {took}, not {NODE_NAMES[primary]}")
        return primary

    def missing(self, why):
        self.unconverged = why
        return None

    def wait_converged(self, timeout=300):
        self.unconverged = None
        try:
            return wait_for(self.converged, timeout, "the cluster to converge: all healthy, one tree, routers "
                            "writing", interval=1.0)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; still {self.unconverged}") from None

    # --- one run --------------------------------------------------------------------------------------
    def run(self, faults, deadline=None):
        """Inflict faults in order (until deadline, a monotonic time); returns the report."""
        c = self.cluster
        writer = Writer(lambda: c.published(self.routers), c.password, timeout=1, routers=True)
        writer.start()
        wait_for(lambda: len(writer.acked) > 20, 60, "the writer to get going")
        sampler = Sampler(c, self)
        sampler.start()
        done = []
        try:
            primary = self.wait_converged()
            for fault in faults:
                if deadline and time.monotonic() > deadline:
                    break
                if not fault.quick:
                    primary = self.wait_converged()
                else:
                    time.sleep(random.uniform(1, 2))
                    primary = self.primary()
                self.inflict(fault, primary, writer)
                done.append(fault)
        finally:
            self.heal_everything()
            try:
                final = self.wait_converged()
            finally:
                writer.stop()
                sampler.stop()
        present = {n for (n,) in c.query(final, "SELECT n FROM writes", timeout=30)}
        return report(done, writer, present, sampler)

    def inflict(self, fault, primary, writer):
        who, how, heal = FAULTS[fault.kind]
        fault.primary_before, fault.target = primary, self.target(who, primary)
        self.log(f"{time.monotonic() - self.began:7.1f} s  {fault.kind} of {fault.target}"
                 f"{' (quick)' if fault.quick else ''}{f' with {fault.second}' if fault.second else ''}, "
                 f"held {fault.hold:.0f} s")
        extra = None
        if fault.second:
            second_who, second_how, second_heal = FAULTS[fault.second]
            extra = (self.target(second_who, primary), second_how, second_heal)
            self.act(extra[1], extra[0])
        fault.started = time.monotonic()
        self.act(how, fault.target)
        inflicted = time.monotonic()  # the fault is in place once the command returns; times count from here
        old = NODE_NAMES[primary] if fault.target == primary else None

        def next_write():
            return writer.first_ack_after(inflicted, not_on=old, sent_after=True)

        first = self.wait(next_write, inflicted + fault.hold)  # a write may come while the fault holds
        self.act(heal, fault.target)
        if extra:
            self.act(extra[2], extra[0])
        healed = time.monotonic()
        first = first or self.wait(next_write, inflicted + NO_WRITE_AFTER)  # or only once it is healed
        fault.to_write_s = round(first - inflicted, 2) if first else None
        if not fault.quick:
            try:
                fault.primary_after = self.wait_converged()
                fault.converge_s = round(time.monotonic() - healed, 2)
            except AssertionError:
                fault.converge_s = None
        self.log(f"{'':9}  next write after {fault.to_write_s} s, converged {fault.converge_s} s after the heal")

    @staticmethod
    def wait(found, until):
        """found()'s first truthy value before the monotonic time until, else None."""
        while time.monotonic() < until:
            value = found()
            if value:
                return value
            time.sleep(0.05)
        return None

    def heal_everything(self):
        self.unsaturate()
        for service in list(self.paused):
            self.act("unpause", service)
        for service in list(self.cut):
            self.act("reconnect", service)
        for service in SERVICES:
            self.cluster.exec(service, "pkill", "-CONT", "-x", "repmgrd", check=False)
        self.cluster.start(*ALL_SERVICES)
        self.down.clear()


def report(faults, writer, present, sampler):
    """The figures, per fault kind and in all."""
    by_kind = {}
    for fault in faults:
        by_kind.setdefault(fault.kind + (" (quick)" if fault.quick else "") +
                           (f" + {fault.second}" if fault.second else ""), []).append(fault)
    kinds = {}
    for kind, group in sorted(by_kind.items()):
        times = [f.to_write_s for f in group if f.to_write_s is not None]
        converge = [f.converge_s for f in group if f.converge_s is not None]
        kinds[kind] = {"count": len(group),
                       "to_write_median_s": round(statistics.median(times), 2) if times else None,
                       "to_write_max_s": max(times) if times else None,
                       "no_write_within_120_s": sum(1 for f in group if f.to_write_s is None),
                       "converge_max_s": max(converge) if converge else None,
                       "not_converged": sum(1 for f in group if f.converge_s is None and not f.quick)}
    lost = sorted(writer.numbers() - present)
    return {"faults": len(faults), "kinds": kinds,
            "acked": len(writer.acked), "lost": len(lost), "lost_numbers": lost[:20],
            "samples": sampler.samples, "two_writable_samples": sampler.two_writable,
            "no_write_within_60_s": [f"{f.kind} of {f.target}" for f in faults
                                     if f.to_write_s is None or f.to_write_s > 60],
            "converge_max_s": max((f.converge_s for f in faults if f.converge_s is not None), default=None),
            "primary_moved_by_other_faults": [f"{f.kind} of {f.target}" for f in faults
                                              if f.primary_after and f.target != f.primary_before and not f.second
                                              and f.primary_after != f.primary_before],
            "runs": [{"kind": f.kind, "target": f.target, "quick": f.quick, "second": f.second, "hold_s": round(f.hold, 1),
                      "to_write_s": f.to_write_s, "converge_s": f.converge_s, "primary_before": f.primary_before,
                      "primary_after": f.primary_after} for f in faults]}
