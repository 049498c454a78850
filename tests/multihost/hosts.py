"""Three Docker hosts on one machine (Docker-in-Docker containers) in one swarm, and the stack deployed on them.

Each host is a container of the image postgis-cluster/dind (src/dind) with its own Docker engine, on a network
of its own; the three are managers of one swarm, labelled pgcluster.node=pgmaster, pgslave1 and pgslave3 as
doc/SWARM.md says, and hold the project's images (docker save | docker load). The host-side test reaches the
stack only through the ports each host container publishes on 127.0.0.1; a host's failures are real ones of
its container: docker kill, docker pause, docker network disconnect.

`--privileged` asks for every capability, and some machines (this one) withhold CAP_SYS_RESOURCE, so a host
runs with every capability but that one, unconfined, with every device and the cgroup tree writable.
"""
import os
import subprocess
import time
from pathlib import Path

from tests.e2e.cluster import ROOT, wait_for

IMAGES = ("postgis-cluster/postgis:latest", "postgis-cluster/pgpool:latest", "postgis-cluster/barman:latest")
LABELS = ("pgmaster", "pgslave1", "pgslave3")  # host i holds the node LABELS[i] (docker-compose/stack.yml)
# A second, smaller stack beside the first (test_swarm.py) publishes on ports of its own, moved by the variables
# the compose file uses.
SECOND_STACK_PORTS = {"PGPOOL_PORT": 5450, "PGBOUNCER_PORT": 6450, "PGMASTER_PORT": 5451, "PGSLAVE1_PORT": 5452}
# The ports the stacks publish on their hosts (mode: host): routers, PgBouncer, nodes, Barman's metrics.
PORTS = (5430, 5431, 6430, 6431, 5441, 5442, 5443, 5444, 8080, *SECOND_STACK_PORTS.values())
NODES_AND_ROUTERS = ("pgmaster", "pgslave1", "pgslave2", "pgslave3", "pgpool", "pgpool2", "backup")
NODE_PORTS = {"pgmaster": 5441, "pgslave1": 5442, "pgslave2": 5443, "pgslave3": 5444}
HOST_FLAGS = ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "apparmor=unconfined",
              "--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined",
              "--device-cgroup-rule", "a *:* rwm", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]


def docker(*args, check=True, timeout=120, **kwargs):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:4])} failed: {result.stderr[-1500:]}")
    return result


class Swarm:
    def __init__(self, name, workdir, stack="pg"):
        self.prefix = f"pgct{name}"
        self.network = f"{self.prefix}-net"
        self.hosts = [f"{self.prefix}-h{i + 1}" for i in range(len(LABELS))]
        self.workdir = Path(workdir)
        self.stack = stack
        self._ports = {}

    # --- the hosts -------------------------------------------------------------------------------
    def down(self):
        """Remove the hosts (and with them everything they ran), their volumes and their network."""
        for host in self.hosts:
            docker("rm", "-f", "-v", host, check=False)
            docker("volume", "rm", "-f", host, check=False)
        docker("network", "rm", self.network, check=False)
        self._ports.clear()

    def up(self):
        self.down()
        subnet = self.create_network()
        self.addresses = {host: f"{subnet}.{11 + i}" for i, host in enumerate(self.hosts)}
        for host in self.hosts:
            published = [arg for port in PORTS for arg in ("-p", f"127.0.0.1::{port}")]
            docker("run", "-d", *HOST_FLAGS, "--network", self.network, "--ip", self.addresses[host],
                   "--hostname", host, "--name", host, "--label", "postgis-cluster.test=multihost",
                   "-v", f"{host}:/var/lib/docker", *published, "postgis-cluster/dind:latest")
        for host in self.hosts:
            wait_for(lambda h=host: self.engine(h, "info", check=False).returncode == 0, 60, f"{host}'s dockerd")
        first = self.addresses[self.hosts[0]]
        self.engine(self.hosts[0], "swarm", "init", "--advertise-addr", first)
        token = self.engine(self.hosts[0], "swarm", "join-token", "-q", "manager").stdout.strip()
        for host in self.hosts[1:]:
            self.engine(host, "swarm", "join", "--token", token, f"{first}:2377")
        for host, label in zip(self.hosts, LABELS, strict=True):
            self.engine(self.hosts[0], "node", "update", "--label-add", f"pgcluster.node={label}", host)
        self.load_images()

    def create_network(self):
        """The hosts' network, on a /24 of its own: fixed addresses keep each host's swarm address across a
        restart and a reconnection. Returns the subnet's first three octets."""
        for third in range(200, 250):
            subnet = f"10.231.{third}"
            if docker("network", "create", "--subnet", f"{subnet}.0/24", "--label", "postgis-cluster.test=multihost",
                      self.network, check=False).returncode == 0:
                return subnet
        raise AssertionError("no free 10.231.x.0/24 subnet for the hosts' network")

    def load_images(self):
        """The project's images in every host: saved once, loaded into each."""
        archive = self.workdir / "images.tar"
        docker("save", "-o", str(archive), *IMAGES, timeout=600)
        try:
            for host in self.hosts:
                with open(archive, "rb") as feed:
                    docker("exec", "-i", host, "docker", "load", stdin=feed, timeout=900)
        finally:
            archive.unlink()

    def engine(self, host, *args, check=True, timeout=120, env=None):
        """docker ARGS against the engine of host (a Docker-in-Docker container)."""
        flags = [arg for k, v in (env or {}).items() for arg in ("-e", f"{k}={v}")]
        return docker("exec", *flags, host, "docker", *args, check=check, timeout=timeout)

    def manager(self, timeout=120):
        """A host whose engine answers as a swarm manager (the first that does). Just after a host rejoins,
        the managers may be electing a leader and answer nothing for a while."""
        def answering():
            for host in self.hosts:
                try:
                    if self.engine(host, "node", "ls", check=False, timeout=15).returncode == 0:
                        return host
                except subprocess.TimeoutExpired:
                    continue
            return None
        return wait_for(answering, timeout, "a swarm manager to answer")

    def port(self, host, private):
        """The 127.0.0.1 port on this machine that reaches host's port private."""
        key = (host, private)
        if key not in self._ports:
            out = docker("port", host, f"{private}/tcp").stdout.strip().splitlines()[0]
            self._ports[key] = int(out.rpartition(":")[2])
        return self._ports[key]

    def kill(self, host):
        docker("kill", host)

    def start(self, host):
        docker("start", host)
        self._ports.clear()  # a started container publishes new ports
        # The engine answers about 12 s after the start; the bound is generous.
        wait_for(lambda: self.engine(host, "info", check=False).returncode == 0, 240, f"{host}'s dockerd")

    def pause(self, host):
        docker("pause", host)

    def unpause(self, host):
        docker("unpause", host)

    def disconnect(self, host):
        docker("network", "disconnect", self.network, host)

    def reconnect(self, host):
        docker("network", "connect", "--ip", self.addresses[host], self.network, host)
        self._ports.clear()  # a reconnected container publishes its ephemeral ports anew, on other numbers

    # --- the stack --------------------------------------------------------------------------------
    def deploy(self, mode="strict", env=None, override=None):
        """docker stack deploy of docker-compose/stack.yml, with secrets from scripts/make-secrets; env sets the
        stack file's variables, and override (YAML) is a second file merged over it."""
        stack_dir = self.workdir / "stack"
        if not (stack_dir / "secrets").exists():
            stack_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run([str(ROOT / "scripts" / "make-secrets"), str(stack_dir / "secrets")], check=True,
                           capture_output=True)
        (stack_dir / "stack.yml").write_text((ROOT / "docker-compose" / "stack.yml").read_text())
        files = ["-c", "stack.yml"]
        if override:
            (stack_dir / "override.yml").write_text(override)
            files += ["-c", "override.yml"]
        host, where = self.manager(), f"/stack-{self.stack}"
        docker("exec", host, "rm", "-rf", where)
        docker("cp", str(stack_dir), f"{host}:{where}")
        flags = [arg for k, v in {"CONSISTENCY_MODE": mode, **(env or {})}.items() for arg in ("-e", f"{k}={v}")]
        docker("exec", "-w", where, *flags, host, "docker", "stack", "deploy", *files, self.stack, timeout=300)

    def remove(self):
        """docker stack rm until it has removed everything (it removes the services first, and fails on the
        secrets and the network their stopping tasks still use), and wait until no task of it runs on any host."""
        wait_for(lambda: self.engine(self.manager(), "stack", "rm", self.stack, check=False).returncode == 0, 120,
                 "docker stack rm to remove the stack's secrets and network", interval=2)
        wait_for(lambda: not any(self.tasks(h) for h in self.hosts), 120, "the stack's containers to stop")

    def tasks(self, host):
        """{service: container id} of the stack's running containers on host ({} when host does not answer)."""
        out = self.engine(host, "ps", "--filter", f"label=com.docker.stack.namespace={self.stack}", "--format",
                          '{{.Label "com.docker.swarm.service.name"}}\t{{.ID}}', check=False, timeout=15)
        if out.returncode != 0:
            return {}
        return {name.split("_", 1)[1]: cid for name, cid in
                (line.split("\t") for line in out.stdout.splitlines() if "\t" in line)}

    def where(self, service):
        """(host, container) running service now, or (None, None)."""
        for host in self.hosts:
            if docker("inspect", "-f", "{{.State.Running}} {{.State.Paused}}", host,
                      check=False).stdout.strip() != "true false":
                continue
            found = self.tasks(host).get(service)
            if found:
                return host, found
        return None, None

    def exec(self, service, *argv, check=True, timeout=60):
        host, container = self.where(service)
        if host is None:
            raise AssertionError(f"{service} runs on no host that answers")
        return self.engine(host, "exec", container, *argv, check=check, timeout=timeout)

    def psql(self, service, sql, timeout=10, dbname="app"):
        """sql on service's own socket, from inside its container (reaches a node cut off from the network)."""
        out = self.exec(service, "psql", "-XAtq", "-U", "postgres", "-d", dbname, "-c", sql, timeout=timeout)
        return out.stdout.strip()

    def is_primary(self, service):
        try:
            return self.psql(service, "SELECT NOT pg_is_in_recovery()", timeout=5) == "t"
        except (AssertionError, subprocess.TimeoutExpired):
            return False

    def node_port(self, service):
        """The 127.0.0.1 port of service's PostgreSQL, published by the host that runs it (None if none)."""
        host, _ = self.where(service)
        return self.port(host, NODE_PORTS[service]) if host else None

    def router_ports(self):
        """Both routers' pgpool ports on this machine, pgpool's first (the client's multi-host list)."""
        found = []
        for service, private in (("pgpool", 5430), ("pgpool2", 5431)):
            host, _ = self.where(service)
            if host:
                found.append(self.port(host, private))
        return found

    def password(self):
        return (self.workdir / "stack" / "secrets" / "postgres_password").read_text()

    def logs(self, services=NODES_AND_ROUTERS, tail=None):
        """The log of every container of services on every host that answers, stopped ones too (a task Swarm
        moved away keeps its log where it ran). Read from each host's engine: `docker service logs` relays
        through a manager and can wait without end after a task moved."""
        out = []
        for host in self.hosts:
            listed = self.engine(host, "ps", "-a", "--filter", f"label=com.docker.stack.namespace={self.stack}",
                                 "--format", '{{.Label "com.docker.swarm.service.name"}}\t{{.ID}}\t{{.Status}}',
                                 check=False, timeout=15)
            for line in listed.stdout.splitlines():
                name, cid, status = line.split("\t")
                if name.split("_", 1)[-1] not in services:
                    continue
                try:
                    result = self.engine(host, "logs", "--timestamps", *(["--tail", str(tail)] if tail else []),
                                         cid, check=False, timeout=60)
                    text = result.stdout + result.stderr
                except subprocess.TimeoutExpired:
                    text = "(no log within 60 s)"
                out.append(f"===== {name} on {host} ({status})\n{text}")
        return "\n".join(out)


def build_host_image():
    """The Docker-in-Docker host image, built like the others."""
    subprocess.run(["docker", "build", "-q", "-t", "postgis-cluster/dind:latest", "-f", "src/dind/Dockerfile", "."],
                   cwd=ROOT, check=True, capture_output=True, timeout=1800, env=dict(os.environ))


def elapsed(since):
    return round(time.monotonic() - since, 2)
