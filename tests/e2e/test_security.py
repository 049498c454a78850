"""TLS on every connection between containers, and least privilege (issue: beyond one host), by default.

One default cluster: every connection a node sees from another container is TLS (replication, the cascade,
Barman's stream, repmgr, pgpool, PgBouncer, the routers' watchers), clients without TLS are refused by the
nodes, pgpool and PgBouncer, clients that verify the server (verify-full with the cluster CA) get in; replaced
certificates are served without a restart and reported when they expire soon; a bad replacement is refused.
Bad TLS input stops a node with one line and leaves its volume untouched. Each user has only its job's rights,
no password shows in any process's environment or command line, and a client outside ALLOWED_NETWORKS is refused.
"""
import subprocess
import time

import psycopg2
import pytest

from pgcluster import db

from .cluster import PGBOUNCER, ROOT, SERVICES, Cluster, failed_start, wait_for

# Every connection a node sees from another address, with its TLS state.
REMOTE = """
SELECT coalesce(nullif(a.application_name, ''), a.backend_type), a.usename, s.ssl
FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
WHERE a.client_addr IS NOT NULL AND host(a.client_addr) <> '127.0.0.1'
"""
ALL = SERVICES + ("pgpool", "pgpool2", "backup")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster("tls", tmp_path_factory.mktemp("tls"))
    c.down()
    c.up()
    c.wait_healthy(ALL, timeout=300)
    yield c
    c.down()


def verified(cluster, service, private=5432):
    """A connection that verifies the server's certificate and name (127.0.0.1) with the cluster's CA."""
    return cluster.connect(service, private=private, sslmode="verify-full", sslrootcert=str(cluster.tls / "ca.crt"))


def test_every_connection_between_containers_is_tls(cluster):
    def remote(service):
        return cluster.query(service, REMOTE)

    # The primary's standbys, Barman's WAL stream, and whatever repmgr and the routers hold open.
    wait_for(lambda: {"node2", "node4", "barman_receive_wal"} <= {r[0] for r in remote("pgmaster")}, 120,
             "both standbys and Barman to stream from pgmaster")
    wait_for(lambda: "node3" in {r[0] for r in remote("pgslave1")}, 60, "the cascade to stream from pgslave1")
    for service in SERVICES:
        plain = [r for r in remote(service) if not r[2]]
        assert not plain, f"{service} has connections without TLS: {plain}"
    # pgpool's and PgBouncer's own connections to the primary, seen from the session they carry.
    for router, private in (("pgpool", 5432), ("pgpool", PGBOUNCER), ("pgpool2", 5432), ("pgpool2", PGBOUNCER)):
        rows = cluster.query(router, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", private=private)
        assert rows == [(True,)], (router, private, rows)


@pytest.mark.parametrize("service, private", [("pgmaster", 5432), ("pgpool", 5432), ("pgpool", PGBOUNCER)])
def test_a_client_without_tls_is_refused_and_a_verifying_one_gets_in(cluster, service, private):
    with pytest.raises(psycopg2.OperationalError):
        cluster.connect(service, private=private, sslmode="disable").close()
    conn = verified(cluster, service, private)
    try:
        assert conn.info.ssl_in_use
    finally:
        conn.close()


PROBE = """
import ssl, urllib.request as u
context = ssl.create_default_context(cafile="/etc/pgcluster/tls/ca.crt")
print("https", u.urlopen("https://pgmaster:8008/status", context=context, timeout=5).status)
try:
    u.urlopen("http://pgmaster:8008/status", timeout=5)
    print("plain answered")
except Exception as exc:
    print("plain refused", type(exc).__name__)
"""


def test_the_status_port_speaks_https_only(cluster):
    said = cluster.exec("pgslave1", "python3", "-c", PROBE).stdout.split("\n")
    assert said[0] == "https 200" and said[1].startswith("plain refused"), said


def served_not_after(cluster, service, private=5432):
    """When the certificate the service serves on its PostgreSQL port expires (openssl's `notAfter=` text)."""
    hello = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect",
                            f"127.0.0.1:{cluster.port(service, private)}"], input=b"", capture_output=True,
                           timeout=20)
    shown = subprocess.run(["openssl", "x509", "-noout", "-enddate"], input=hello.stdout, capture_output=True,
                           timeout=10)
    return shown.stdout.decode().strip()


def started_at(cluster, service):
    return cluster.docker("inspect", "-f", "{{.State.StartedAt}}", cluster.container(service)).stdout.strip()


def renew(cluster, services, days, other_ca=False):
    """Issue the services' certificates again, in place (as `scripts/make-secrets --renew` does)."""
    directory = cluster.workdir / "other" if other_ca else cluster.workdir
    env = {"PATH": "/usr/bin:/bin", "TLS_SERVICES": " ".join(services), "TLS_DAYS": str(days)}
    subprocess.run([str(ROOT / "scripts" / "make-secrets"), "--renew", str(directory)], env=env, check=True,
                   capture_output=True)
    if other_ca:  # written in place over the cluster's files, as a careless operator would
        for service in services:
            for suffix in ("crt", "key"):
                (cluster.tls / f"{service}.{suffix}").write_bytes((directory / "tls" / f"{service}.{suffix}")
                                                                 .read_bytes())


def test_replaced_certificates_are_served_without_a_restart_and_reported_before_they_expire(cluster):
    renewed = ("pgmaster", "pgpool", "backup")
    ports = (("pgmaster", 5432), ("pgpool", 5432), ("pgpool", PGBOUNCER))
    before = {s: started_at(cluster, s) for s in renewed}
    served = {p: served_not_after(cluster, *p) for p in ports}
    renew(cluster, renewed, days=20)
    for port in ports:
        wait_for(lambda p=port: served_not_after(cluster, *p) not in ("", served[p]), 60,
                 f"{port} to serve the replaced certificate")
    assert {s: started_at(cluster, s) for s in renewed} == before, "a container restarted"
    for service, who in (("pgmaster", "node1"), ("pgpool", "pgpool"), ("backup", "backup")):
        assert f"{who} loads its replaced TLS certificate" in cluster.logs(service)
    # pgcluster status names each of them; the metric says the same.
    def reported():
        out = cluster.exec("pgslave3", "pgcluster", "status").stdout
        assert out.count("in 19 days") == 3, out
        return out

    status = wait_for(reported, 30, "status to report the three certificates")
    for service in renewed:
        assert f"  {service}: its TLS certificate expires on " in status, status
    metric = [line for line in cluster.fetch("backup", 8080, "/metrics").splitlines()
              if line.startswith('pgcluster_tls_certificate_expiry_timestamp_seconds{name="backup"} ')]
    assert len(metric) == 1 and float(metric[0].split()[1]) < time.time() + 21 * 86400, metric
    # Replication and the routers still work over the new certificates.
    cluster.query("pgpool", "CREATE TABLE IF NOT EXISTS after_renewal (n int); INSERT INTO after_renewal VALUES (1)")
    wait_for(lambda: cluster.query("pgslave2", "SELECT count(*) FROM after_renewal")[0][0] == 1, 60,
             "the write to reach the cascade")


def test_a_replacement_from_another_ca_is_refused_and_the_certificate_in_use_stays(cluster):
    served = served_not_after(cluster, "pgslave3")
    renew(cluster, ("pgslave3",), days=5, other_ca=True)
    try:
        wait_for(lambda: "node4 keeps its TLS certificate in use and refuses the replacement"
                 in cluster.logs("pgslave3"), 60, "pgslave3 to refuse the replacement")
        assert "it is not signed by TLS_CA_FILE" in cluster.logs("pgslave3")
        assert served_not_after(cluster, "pgslave3") == served
        verified(cluster, "pgslave3").close()
    finally:  # a good certificate again, for the tests after this one
        renew(cluster, ("pgslave3",), days=825)
        wait_for(lambda: "node4 loads its replaced TLS certificate" in cluster.logs("pgslave3"), 60,
                 "pgslave3 to load the good certificate")


BAD_TLS_NODE = """
services:
  node:
    image: postgis-cluster/postgis:latest
    restart: "no"
    environment:
      NODE_NAME: node1
      CLUSTER_NODE_NETWORK_NAME: pgmaster
      POSTGRES_PASSWORD: secret
      REPLICATION_PASSWORD: secret
      TLS_CA_FILE: /tls/ca.crt
{extra}
    volumes: ["data:/var/lib/postgresql/data", "{tls}:/tls:ro", "{other}:/other:ro"]
volumes:
  data: {{}}
"""


@pytest.mark.parametrize("name, extra, message", [
    ("nokey", "      TLS_CERT_FILE: /tls/pgmaster.crt\n      TLS_KEY_FILE: /tls/absent.key",
     "pgcluster: TLS_KEY_FILE=/tls/absent.key cannot be read: expected a readable PEM file"),
    ("otherca", "      TLS_CERT_FILE: /other/pgmaster.crt\n      TLS_KEY_FILE: /other/pgmaster.key",
     "pgcluster: TLS_CERT_FILE=/other/pgmaster.crt cannot be used: it is not signed by TLS_CA_FILE"),
    ("name", "      TLS_CERT_FILE: /tls/pgslave1.crt\n      TLS_KEY_FILE: /tls/pgslave1.key",
     "pgcluster: TLS_CERT_FILE=/tls/pgslave1.crt cannot be used: it does not name pgmaster"),
    ("mismatch", "      TLS_CERT_FILE: /tls/pgmaster.crt\n      TLS_KEY_FILE: /tls/pgslave1.key",
     "pgcluster: TLS_CERT_FILE=/tls/pgmaster.crt cannot be used: it does not match TLS_KEY_FILE"),
    ("required", "      TLS_CERT_FILE: /tls/pgmaster.crt\n      TLS_KEY_FILE: /tls/pgmaster.key\n"
                 "      TLS_REQUIRED: maybe",
     "pgcluster: TLS_REQUIRED='maybe' is not valid: expected"),
    ("unknown", "      TLS_CERT_FILE: /tls/pgmaster.crt\n      TLS_KEY_FILE: /tls/pgmaster.key\n"
                "      TLS_VERIFY: full",
     "pgcluster: TLS_VERIFY is not a known variable: expected one of TLS_CA_FILE, TLS_CERT_FILE"),
])
def test_bad_tls_input_stops_the_node_with_one_line_and_leaves_the_volume_untouched(tmp_path, name, extra, message):
    other = tmp_path / "other"
    subprocess.run([str(ROOT / "scripts" / "make-secrets"), str(other)], env={"PATH": "/usr/bin:/bin",
                   "TLS_SERVICES": "pgmaster"}, check=True, capture_output=True)
    compose = BAD_TLS_NODE.format(extra=extra, tls=tmp_path / "tls", other=other / "tls")
    with failed_start(tmp_path, f"badtls{name}", compose, "node") as (c, lines):
        assert len(lines) == 1 and lines[0].startswith(message), lines
        listing = c.compose("run", "--rm", "--entrypoint", "ls", "node", "-A", "/var/lib/postgresql/data").stdout
        assert listing.strip() == "", f"the volume was changed: {listing}"


PROCESSES = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/environ; echo; tr '\\0' ' ' < $p/cmdline; echo; done"


def test_no_password_in_any_process_environment_or_command_line_or_config_check(cluster):
    secrets = [p for p in cluster.passwords.values() if p]
    for service in ALL:
        seen = cluster.exec(service, "sh", "-c", PROCESSES + " 2>/dev/null", check=False).stdout
        assert "postgres" in seen or "barman" in seen, f"{service}: no process read"
        leaked = [s for s in secrets if s in seen]
        assert not leaked, f"a password is in the environment or command line of a process in {service}"
        role = "node" if service in SERVICES else "barman" if service == "backup" else "pgpool"
        check = cluster.exec(service, "pgcluster", "config", "check", "--role", role).stdout
        assert not [s for s in secrets if s in check], f"a password is in {service}'s config check"


def login(cluster, service, user, secret, dbname="app"):
    return cluster.connect(service, dbname=dbname, user=user, password=cluster.passwords[secret])


def test_each_user_has_only_the_rights_of_its_job(cluster):
    cluster.query("pgpool", "CREATE TABLE IF NOT EXISTS private_rows (n int); INSERT INTO private_rows VALUES (1)")
    superusers = {r[0] for r in cluster.query("pgmaster", "SELECT rolname FROM pg_roles WHERE rolsuper")}
    assert superusers == {"postgres"}, superusers
    # The routers' check user reads statistics and cannot write.
    conn = login(cluster, "pgmaster", "pgpool_check", "check_password")
    try:
        assert db.scalar(conn, "SELECT count(*) >= 2 FROM pg_stat_replication WHERE client_addr IS NOT NULL")
        for statement in ("INSERT INTO private_rows VALUES (2)", "CREATE TABLE check_made (n int)"):
            with pytest.raises(psycopg2.Error, match="read-only transaction|permission denied"):
                db.execute(conn, statement)
    finally:
        conn.close()
    # The replication user and Barman's cannot read the application's tables.
    for user, secret in (("replication_user", "replication_password"), ("barman", "barman_password")):
        conn = login(cluster, "pgmaster", user, secret)
        try:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                db.scalar(conn, "SELECT count(*) FROM private_rows")
        finally:
            conn.close()
    # The application's user owns its database, through the routers too, and is no superuser.
    for router in ("pgpool", "pgpool2"):
        conn = login(cluster, router, "app", "app_password")
        try:
            db.execute(conn, "CREATE TABLE IF NOT EXISTS app_rows (n int); INSERT INTO app_rows VALUES (1)")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                db.scalar(conn, "SELECT count(*) FROM private_rows")
        finally:
            conn.close()
    # Barman works as its own user: the last backup and the WAL stream.
    assert "barman check passes" in cluster.exec("pgslave1", "pgcluster", "status").stdout


def test_a_client_from_outside_the_allowed_networks_is_refused(tmp_path):
    alone = ("  pgmaster:\n    environment: {PARTNER_NODES: pgmaster, ALLOWED_NETWORKS: 10.255.255.0/24}\n")
    c = Cluster("allowed", tmp_path, services_yaml=alone, services=("pgmaster",))
    c.down()
    try:
        c.up("pgmaster")
        c.wait_healthy(("pgmaster",))  # a socket answers already while the first start creates the users
        with pytest.raises(psycopg2.OperationalError, match="no pg_hba.conf entry"):
            c.connect("pgmaster").close()
    finally:
        c.down()
