"""The foundation: one command brings up a replicating PostGIS cluster (issue: foundation)."""
import gzip
import json
import re
import subprocess

import pytest

from .cluster import ALL_SERVICES, PGBOUNCER, ROOT, ROUTERS, Cluster, failed_start, wait_for

SERVICES = ("pgmaster", "pgslave1", "pgslave2", "pgslave3")
STANDBYS = {"pgslave1": "pgmaster", "pgslave2": "pgslave1", "pgslave3": "pgmaster"}


def init_scripts(directory):
    """One script of each kind the official image runs, and one it ignores; each records that it ran."""
    directory.mkdir()
    (directory / "01-table.sql").write_text("CREATE TABLE init_runs (script text);\n"
                                           "INSERT INTO init_runs VALUES ('sql');\n")
    (directory / "02-more.sql.gz").write_bytes(gzip.compress(b"INSERT INTO init_runs VALUES ('sql.gz');\n"))
    (directory / "03-shell.sh").write_text(
        'psql -v ON_ERROR_STOP=1 -c "INSERT INTO init_runs VALUES (\'sh:$POSTGRES_DB\')"\n')
    (directory / "04-notes.txt").write_text("not a script\n")
    for path in directory.iterdir():
        path.chmod(0o644)
    directory.chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("basic")
    scripts = init_scripts(workdir / "initdb")
    mount = f"    volumes: ['{scripts}:/docker-entrypoint-initdb.d:ro']\n"
    c = Cluster("basic", workdir, services_yaml=f"  pgmaster:\n{mount}  pgslave1:\n{mount}")
    c.down()  # leftovers of an earlier run of this project
    make = subprocess.run(["make", "-s", "up", f"COMPOSE={' '.join(c.command)}"], cwd=ROOT, env=c.env,
                          capture_output=True, text=True, timeout=900)
    c.make_up_output = make.stdout + make.stderr
    try:
        assert make.returncode == 0, f"make up failed:\n{c.make_up_output[-3000:]}"
        yield c
    finally:
        c.down()


def cluster_show(c):
    """{name: (role, upstream)} from `repmgr cluster show`, run inside the primary."""
    out = c.exec("pgmaster", "repmgr", "cluster", "show").stdout
    rows = {}
    for line in out.splitlines()[2:]:
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 4:
            rows[cells[1]] = (cells[2], cells[4], cells[3])
    return rows


def receiver(c, service):
    rows = c.query(service, "SELECT sender_host, status FROM pg_stat_wal_receiver")
    return rows[0] if rows else (None, None)


def test_make_up_waits_until_every_node_is_healthy(cluster):
    assert "All 7 containers are healthy" in cluster.make_up_output
    assert all(cluster.health(s) == "healthy" for s in ALL_SERVICES)


def test_ports_are_published_on_loopback_only(cluster):
    for service in ALL_SERVICES:
        bindings = cluster.docker("inspect", "-f", "{{json .HostConfig.PortBindings}}", cluster.container(service)).stdout
        addresses = re.findall(r'"HostIp":"([^"]*)"', bindings)
        assert addresses and set(addresses) == {"127.0.0.1"}, bindings


def test_repmgr_cluster_show_lists_the_tree(cluster):
    assert cluster_show(cluster) == {
        "node1": ("primary", "", "* running"),
        "node2": ("standby", "node1", "running"),
        "node3": ("standby", "node2", "running"),
        "node4": ("standby", "node1", "running"),
    }


@pytest.mark.parametrize("service", ["pgslave2", "pgpool2", "backup"])
def test_status_in_any_container_shows_every_node_both_routers_and_the_backup(cluster, service):
    for router in ROUTERS:
        assert cluster.query(router, "SELECT 1", private=PGBOUNCER) == [(1,)]  # a pool to show
    found = json.loads(cluster.exec(service, "pgcluster", "status", "--json").stdout)
    assert found["primary"] == "pgmaster"
    assert {n["host"]: (n["role"], n["upstream"]) for n in found["nodes"]} == {
        "pgmaster": ("primary", ""), "pgslave1": ("standby", "pgmaster"), "pgslave2": ("standby", "pgslave1"),
        "pgslave3": ("standby", "pgmaster")}
    assert set(found["routers"]) == {"pgpool", "pgpool2"}
    for view in found["routers"].values():
        assert view["pgpool"]["has_write_node"] and view["pgbouncer"]["primary"] == "pgmaster", view
        assert "app" in {p["database"] for p in view["pgbouncer"]["pools"]}, view
    assert found["backup"]["backups"] >= 1 and found["backup"]["check_ok"], found["backup"]
    text = cluster.exec(service, "pgcluster", "status").stdout
    assert "Nodes (primary: pgmaster)" in text and "pgpool2: PgBouncer writes to pgmaster" in text, text
    assert "barman check passes" in text, text


def test_is_major_master_counts_the_whole_tree(cluster):
    assert cluster.exec("pgmaster", "healthchecks/is_major_master").stdout.strip() == \
        "node1: primary followed by 3 of 3 partners (itself included)."
    assert cluster.exec("pgslave2", "healthchecks/is_major_master").stdout.strip() == "node3: standby of pgslave1."


def test_repmgrd_runs_on_every_node(cluster):
    out = cluster.exec("pgmaster", "repmgr", "service", "status").stdout
    lines = [line for line in out.splitlines() if re.match(r"\s*\d+\s*\|", line)]
    assert len(lines) == 4 and all(line.split("|")[5].strip() == "running" for line in lines), out


def test_every_standby_streams_from_its_upstream(cluster):
    assert cluster.is_primary("pgmaster")
    for standby, upstream in STANDBYS.items():
        assert receiver(cluster, standby) == (upstream, "streaming")


def test_writes_reach_every_standby_and_postgis_works_there(cluster):
    cluster.query("pgmaster", """
        CREATE TABLE places (id int PRIMARY KEY, name text, geom geometry(Point, 4326));
        INSERT INTO places VALUES
          (1, 'near', ST_SetSRID(ST_MakePoint(13.4050, 52.5200), 4326)),
          (2, 'close', ST_SetSRID(ST_MakePoint(13.4100, 52.5200), 4326)),
          (3, 'far', ST_SetSRID(ST_MakePoint(2.3522, 48.8566), 4326))""")
    nearby = """SELECT name FROM places
                WHERE ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(13.4060, 52.5200), 4326)::geography, 1000)
                ORDER BY id"""
    for standby in STANDBYS:
        wait_for(lambda: cluster.query(standby, "SELECT to_regclass('places') IS NOT NULL")[0][0], 30,
                 f"the table on {standby}")
        assert cluster.query(standby, nearby) == [("near",), ("close",)]
        assert cluster.query(standby, "SELECT extversion FROM pg_extension WHERE extname = 'postgis'")[0][0].startswith("3.")


def test_init_scripts_ran_once_on_the_initial_primary(cluster):
    expected = [("sql",), ("sql.gz",), ("sh:app",)]
    assert cluster.query("pgmaster", "SELECT script FROM init_runs") == expected
    wait_for(lambda: cluster.query("pgslave1", "SELECT script FROM init_runs") == expected, 30,
             "the scripts' rows on pgslave1, which cloned them and ran nothing itself")
    assert "Ignored init script 04-notes.txt" in cluster.logs("pgmaster")  # tells the operator why it did not run


def test_passwords_never_appear_in_logs_or_process_lists(cluster):
    logs = cluster.compose("logs", "--no-color").stdout
    processes = "".join(cluster.exec(s, "ps", "-eo", "args").stdout for s in ALL_SERVICES)
    for password in cluster.passwords.values():
        assert password not in logs
        assert password not in processes


def test_restarted_standby_streams_again_without_a_clone(cluster):
    marker = "/var/lib/postgresql/data/kept-across-restart"  # a fresh clone would empty the directory
    cluster.exec("pgslave1", "touch", marker)
    cluster.restart("pgslave1")
    wait_for(lambda: receiver(cluster, "pgslave1") == ("pgmaster", "streaming"), 60, "pgslave1 to stream again")
    cluster.query("pgmaster", "INSERT INTO places VALUES (4, 'after restart', NULL)")
    wait_for(lambda: cluster.query("pgslave1", "SELECT count(*) FROM places WHERE id = 4")[0][0] == 1, 30,
             "the new row on pgslave1")
    assert cluster.exec("pgslave1", "test", "-e", marker, check=False).returncode == 0, "the restart cloned again"
    wait_for(lambda: receiver(cluster, "pgslave2") == ("pgslave1", "streaming"), 60, "the cascade to stream")


def test_whole_cluster_restart_keeps_primary_and_tree(cluster):
    cluster.stop()  # docker-compose stops dependants first: standbys, then pgmaster
    cluster.start("pgslave2", "pgslave3")
    cluster.start("pgslave1")
    cluster.start("pgmaster")
    cluster.wait_healthy(SERVICES, timeout=180)
    assert cluster.is_primary("pgmaster")
    for standby, upstream in STANDBYS.items():
        wait_for(lambda: receiver(cluster, standby) == (upstream, "streaming"), 60, f"{standby} to stream")
    assert cluster.query("pgslave2", "SELECT count(*) FROM places")[0][0] == 4
    assert cluster.query("pgmaster", "SELECT count(*) FROM init_runs")[0][0] == 3, "init scripts ran again"
    assert cluster_show(cluster)["node1"][0] == "primary"


BAD_NODE = """
services:
  node:
    image: postgis-cluster/postgis:latest
    restart: "no"
    environment:
      NODE_NAME: node1
      REPLICATION_PASSWORD: secret
      TLS_REQUIRED: "0"  # no TLS files: these start without TLS
{extra}
    volumes: ["data:/var/lib/postgresql/data"]
volumes:
  data: {{}}
"""


@pytest.mark.parametrize("name, extra, message", [
    ("nopw", "", "pgcluster: POSTGRES_PASSWORD is required: set it (or POSTGRES_PASSWORD_FILE)."),
    ("configs", "      POSTGRES_PASSWORD: secret\n      CONFIGS: 'shard_buffers:128MB'",
     'pgcluster: CONFIGS is not valid: unrecognized configuration parameter "shard_buffers"'),
    ("value", "      POSTGRES_PASSWORD: secret\n      CONFIGS: 'shared_buffers:lots'",
     'pgcluster: CONFIGS is not valid: invalid value for parameter "shared_buffers": "lots"'),
    ("priority", "      POSTGRES_PASSWORD: secret\n      NODE_PRIORITY: high",
     "pgcluster: NODE_PRIORITY='high' is not valid: expected an integer from 0 to 1000."),
])
def test_bad_input_stops_the_node_and_leaves_the_volume_untouched(tmp_path, name, extra, message):
    with failed_start(tmp_path, f"bad{name}", BAD_NODE.format(extra=extra), "node") as (c, lines):
        assert len(lines) == 1 and lines[0].startswith(message), lines
        listing = c.compose("run", "--rm", "--entrypoint", "ls", "node", "-A", "/var/lib/postgresql/data").stdout
        assert listing.strip() == "", f"the volume was changed: {listing}"
        # `config check` judges the same environment exactly as the entrypoint did.
        check = c.compose("run", "--rm", "--entrypoint", "pgcluster", "node", "config", "check", check=False)
        said = [line for line in check.stderr.splitlines() if line.startswith("pgcluster:")]
        assert check.returncode == 1 and said == lines, check.stderr


OLD_DATA = ("echo 15 > $PGDATA/PG_VERSION && mkdir -p $PGDATA/base/1 && echo rows > $PGDATA/base/1/16384 "
            "&& find $PGDATA -mindepth 1 -exec touch -d '2025-01-01 00:00' {} +")
LISTING = ("cd $PGDATA && find . -mindepth 1 -printf '%p %y %TY-%Tm-%Td %TH:%TM\\n' | sort "
           "&& cat PG_VERSION base/1/16384")


def test_a_data_directory_of_another_major_version_is_left_untouched(tmp_path):
    node = BAD_NODE.format(extra="      POSTGRES_PASSWORD: secret")
    with failed_start(tmp_path, "badversion", node, "node", prepare=OLD_DATA) as (c, lines):
        assert lines == ["pgcluster: PGDATA=/var/lib/postgresql/data holds a PostgreSQL 15 data directory, but this "
                         "image runs PostgreSQL 17; the directory was left untouched. Upgrade it first: see "
                         "\"Upgrading PostgreSQL\" in the README."], lines
        after = c.compose("run", "--rm", "--entrypoint", "sh", "node", "-c", LISTING).stdout.splitlines()
        assert after == ["./PG_VERSION f 2025-01-01 00:00", "./base d 2025-01-01 00:00", "./base/1 d 2025-01-01 00:00",
                         "./base/1/16384 f 2025-01-01 00:00", "15", "rows"], after
