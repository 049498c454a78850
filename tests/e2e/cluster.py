"""A compose project under test: real images, real docker-compose, real failures.

Every project gets its own name, its own secrets and ephemeral 127.0.0.1 ports;
leftovers of an earlier run of the same project are removed first, and
down -v removes everything afterwards. The host reaches containers only
through their published 127.0.0.1 ports.
"""
import os
import secrets
import ssl
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from pgcluster import db

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose" / "docker-compose.yml"
SERVICES = ("pgmaster", "pgslave1", "pgslave2", "pgslave3")
ROUTERS = ("pgpool", "pgpool2")
ALL_SERVICES = SERVICES + ROUTERS + ("backup",)
PROFILES = {"haproxy": "haproxy", "monitoring": "prometheus"}  # compose profile: its service
PASSWORDS = ("postgres_password", "replication_password", "pcp_password", "control_password", "check_password",
             "barman_password", "app_password")
TLS_SERVICES = SERVICES + ROUTERS + ("backup",)  # each has a certificate of its own (docker-compose.yml)
PGBOUNCER = 6432  # the routers' PgBouncer port inside the container
HAPROXY = 5000  # HAProxy's primary port; replicas on 5001 (docker-compose/haproxy.cfg)
NODE_NAMES = {"pgmaster": "node1", "pgslave1": "node2", "pgslave2": "node3", "pgslave3": "node4"}
PORT_VARIABLES = ("PGMASTER_PORT", "PGSLAVE1_PORT", "PGSLAVE2_PORT", "PGSLAVE3_PORT", "PGPOOL_PORT", "PGPOOL2_PORT",
                  "PGBOUNCER_PORT", "PGBOUNCER2_PORT", "BACKUP_METRICS_PORT", "HAPROXY_PORT",
                  "HAPROXY_REPLICAS_PORT", "HAPROXY_STATS_PORT", "PROMETHEUS_PORT")


def wait_for(predicate, timeout, what, interval=0.5):
    """Return predicate()'s first truthy value; fail with `what` when the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the condition is re-evaluated until the deadline
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" +
                         (f" (last error: {last_error})" if last_error else ""))


class Cluster:
    def __init__(self, name, workdir, services_yaml="", compose_file=COMPOSE_FILE, services=ALL_SERVICES, profiles=()):
        """services_yaml: more service overrides, indented as under `services:` in the override file;
        profiles: the compose profiles to enable (their services are added to `services`)."""
        services = tuple(services) + tuple(PROFILES[p] for p in profiles)
        self.project = f"pgct{name}"
        self.services = services
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.passwords = {}
        for secret in PASSWORDS:
            self.passwords[secret] = secrets.token_urlsafe(18)
            (self.workdir / secret).write_text(self.passwords[secret])
        (self.workdir / "db_users").write_text(f"postgres:{self.password},app:{self.passwords['app_password']}")
        # The cluster's own CA and a certificate per service, as `make secrets` makes them.
        subprocess.run([str(ROOT / "scripts" / "make-secrets"), str(self.workdir)], check=True, capture_output=True)
        self.tls = self.workdir / "tls"
        files = {name: self.workdir / name for name in PASSWORDS + ("db_users",)}
        files["tls_ca"] = self.tls / "ca.crt"
        for service in TLS_SERVICES:
            files[f"{service}_tls_cert"] = self.tls / f"{service}.crt"
            files[f"{service}_tls_key"] = self.tls / f"{service}.key"
        override = self.workdir / "override.yml"
        override.write_text(
            "services:\n" + "".join(f"  {s}:\n    labels: [postgis-cluster.test={name}]\n" for s in services)
            + services_yaml +
            "secrets:\n" + "".join(f"  {name}: {{file: {path}}}\n" for name, path in files.items()))
        self.files = [str(compose_file), str(override)]
        self.env = dict(os.environ, **{v: "" for v in PORT_VARIABLES}, COMPOSE_PROFILES=",".join(profiles))
        self._ports = {}

    def url(self, service, private, path):
        """(url, SSL context) of an HTTPS endpoint the service publishes, verified with the cluster's CA (the
        certificates name 127.0.0.1 too)."""
        return (f"https://127.0.0.1:{self.port(service, private)}{path}",
                ssl.create_default_context(cafile=str(self.tls / "ca.crt")))

    def fetch(self, service, private, path, timeout=10):
        """The body of GET path on the service's HTTPS endpoint."""
        url, context = self.url(service, private, path)
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.read().decode()

    @property
    def password(self):
        return self.passwords["postgres_password"]

    @property
    def command(self):
        """The docker-compose argv prefix for this project."""
        args = ["docker-compose", "-p", self.project]
        for path in self.files:
            args += ["-f", path]
        return args

    def compose(self, *args, timeout=600, check=True):
        result = subprocess.run(self.command + list(args), capture_output=True, text=True, env=self.env,
                                timeout=timeout, cwd=ROOT)
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result

    def up(self, *services):
        self.compose("up", "-d", "--no-build", *services)

    def down(self):
        """Save the project's logs to workdir/compose.log, then remove its containers and volumes."""
        logs = self.compose("logs", "--no-color", "--timestamps", check=False).stdout
        if logs.strip():
            (self.workdir / "compose.log").write_text(logs)
        self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False)
        self._ports.clear()

    def stop(self, *services):
        self.compose("stop", *services)
        self._ports.clear()

    def start(self, *services):
        self.compose("start", *services)
        self._ports.clear()

    def restart(self, *services):
        self.compose("restart", *services)
        self._ports.clear()

    def container(self, service):
        return self.compose("ps", "-q", service).stdout.strip()

    def docker(self, *args, check=True, timeout=120):
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr}")
        return result

    def port(self, service, private=5432):
        key = (service, private)
        if key not in self._ports:
            out = self.compose("port", service, str(private)).stdout.strip()
            host, _, port = out.rpartition(":")
            assert host == "127.0.0.1", f"{service} publishes {out}, not on 127.0.0.1"
            self._ports[key] = int(port)
        return self._ports[key]

    def published(self, services, private=5432):
        """The ports the services publish now; a stopped container publishes none and is left out."""
        ports = []
        for service in services:
            try:
                ports.append(self.port(service, private))
            except AssertionError:
                pass
        return ports

    def connect(self, service, dbname="app", user="postgres", password=None, timeout=3, private=5432, **libpq):
        """A connection through the service's published 127.0.0.1 port (private: the port in the container;
        libpq: more connection parameters, such as sslmode)."""
        return db.connect("127.0.0.1", self.port(service, private), user, dbname, password or self.password,
                          timeout=timeout, application_name="e2e", **libpq)

    def query(self, service, sql, params=None, timeout=3, **kwargs):
        """Rows of sql on service; a node that does not answer within the deadline raises."""
        conn = self.connect(service, timeout=timeout, **kwargs)
        try:
            return db.rows(conn, sql, params, timeout=timeout * 2)
        finally:
            conn.close()

    def exec(self, service, *argv, check=True, timeout=60):
        result = self.compose("exec", "-T", service, *argv, check=False, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} in {service} exited {result.returncode}: "
                                 f"{result.stdout[-1500:]} {result.stderr[-1500:]}")
        return result

    def logs(self, service):
        return self.compose("logs", "--no-color", service).stdout

    def health(self, service):
        return self.docker("inspect", "-f", "{{.State.Health.Status}}", self.container(service)).stdout.strip()

    def states(self):
        """{service: its docker ps status ("Up 3 minutes (healthy)")} of the project's running containers, in
        one docker call (docker-compose ps takes most of a second for each)."""
        out = self.docker("ps", "--filter", f"label=com.docker.compose.project={self.project}", "--format",
                          '{{.Label "com.docker.compose.service"}}\t{{.Status}}').stdout
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def unhealthy(self, services):
        """Those of services not healthy now, each with its docker ps status: ["backup (Up 9 seconds (health:
        starting))", ...]."""
        states = self.states()
        return [f"{s} ({states.get(s, 'not running')})" for s in services if "(healthy)" not in states.get(s, "")]

    def healthy(self, services):
        return not self.unhealthy(services)

    def wait_healthy(self, services, timeout=180):
        wait_for(lambda: self.healthy(services), timeout, f"{', '.join(services)} to be healthy")

    def is_primary(self, service):
        try:
            return self.query(service, "SELECT NOT pg_is_in_recovery()", timeout=2)[0][0]
        except psycopg2.Error:
            return False

    def repmgrd_uptime(self, service):
        """Seconds the service's repmgrd has run; 0 when none runs."""
        out = self.exec(service, "ps", "-o", "etimes=", "-C", "repmgrd", check=False).stdout.split()
        return int(out[0]) if out else 0

    def wait_repmgrd_settled(self, services, seconds=5, timeout=60):
        """Until every service's repmgrd has run `seconds`: a repmgrd that had only just started when its
        upstream froze has been seen to hang (a known limit, doc/FLOWS.md)."""
        wait_for(lambda: all(self.repmgrd_uptime(s) >= seconds for s in services), timeout,
                 f"repmgrd to run {seconds} s on {', '.join(services)}")

    # --- failures ------------------------------------------------------------------------------
    @property
    def network(self):
        return f"{self.project}_cluster"

    def kill(self, service):
        self.docker("kill", self.container(service))
        self._ports.clear()

    def pause(self, service):
        """docker pause. The cgroup freezer now and then gives up on a container that forks busily
        ("unable to freeze"; Docker thaws it again): then the pause is tried again, up to a deadline."""
        container = self.container(service)
        deadline = time.monotonic() + 20
        while True:
            result = self.docker("pause", container, check=False)
            if result.returncode == 0:
                return
            if "unable to freeze" not in result.stderr or time.monotonic() > deadline:
                raise AssertionError(f"docker pause {service} failed: {result.stderr}")
            time.sleep(0.2)

    def unpause(self, service):
        self.docker("unpause", self.container(service))

    def disconnect(self, service):
        self.docker("network", "disconnect", self.network, self.container(service))

    def reconnect(self, service):
        self.docker("network", "connect", "--alias", service, self.network, self.container(service))
        self._ports.clear()

    def psql(self, service, sql, timeout=10):
        """Run SQL inside the container through the local socket (reaches a node cut off from the network)."""
        return self.exec(service, "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", "app",
                         "-c", sql, check=False, timeout=timeout)

    # --- the tree as clients see it ----------------------------------------------------------
    def running(self, services=SERVICES):
        up = self.states()
        return [s for s in services if up.get(s, "").startswith("Up") and "(Paused)" not in up[s]]

    def writable(self, services=SERVICES):
        """The services that accept writes (not in recovery), asked through their ports."""
        return [s for s in self.running(services) if self.is_primary(s)]

    def sender(self, service):
        rows = self.query(service, "SELECT sender_host FROM pg_stat_wal_receiver WHERE status = 'streaming'",
                          timeout=2)
        return rows[0][0] if rows else None

    def tree_is_whole(self, services=SERVICES):
        """The single primary, when every other running node streams from it, directly or through a chain."""
        writable = self.writable(services)
        if len(writable) != 1:
            return None
        primary = writable[0]
        for service in self.running(services):
            node, hops = service, 0
            while node != primary:
                node, hops = self.sender(node), hops + 1
                if node is None or hops > len(services):
                    return None
        return primary

    def wait_tree(self, timeout=90, services=SERVICES):
        """The primary once the tree is whole, and once a write through pgpool lands on it."""
        primary = wait_for(lambda: self.tree_is_whole(services), timeout,
                           "exactly one writable node with every other node streaming from it")
        if "pgpool" in self.running(ALL_SERVICES):
            wait_for(lambda: self.write_via("pgpool") == NODE_NAMES[primary], 60,
                     f"a write through pgpool to land on {primary}")
        return primary

    def write_via(self, router):
        """The NODE_NAME of the node that took a write sent to the router."""
        return self.query(router, "CREATE TABLE IF NOT EXISTS pgpool_probe (at timestamptz); "
                                  "INSERT INTO pgpool_probe VALUES (now()) "
                                  "RETURNING split_part(current_setting('cluster_name'), '/', 2)", timeout=5)[0][0]


@contextmanager
def failed_start(workdir, name, compose_text, service, prepare=None):
    """A one-service project that must stop at start: yields it and the lines pgcluster printed.

    prepare: a shell command run first in a throwaway container of the service (its volumes mounted).
    """
    compose_file = Path(workdir) / "bad.yml"
    compose_file.write_text(compose_text)
    c = Cluster(name, workdir, compose_file=compose_file, services=(service,))
    c.down()
    try:
        if prepare:
            c.compose("run", "--rm", "--entrypoint", "sh", service, "-c", prepare)
        c.up()
        container = c.container(service)
        wait_for(lambda: c.docker("inspect", "-f", "{{.State.Status}}", container).stdout.strip() == "exited",
                 60, f"{service} to exit")
        assert c.docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip() != "0"
        yield c, [line.split("| ", 1)[1] for line in c.logs(service).splitlines()
                  if "pgcluster:" in line or " ERROR " in line]
    finally:
        c.down()
