import pytest

from pgcluster import config

from .certs import TLS_ENV
from .helpers import loader

BASE = {"NODE_NAME": "node1", "POSTGRES_PASSWORD": "pw", "REPLICATION_PASSWORD": "rpw", **TLS_ENV}
load, problems = loader("node", BASE)


def test_defaults():
    cfg = load()
    assert (cfg.node_id, cfg.priority, cfg.host, cfg.postgres_user, cfg.postgres_db) == (1, 100, "node1", "postgres", "postgres")
    assert (cfg.replication_user, cfg.replication_db, cfg.upstream_port) == ("replication_user", "replication_db", 5432)
    assert cfg.use_slots and not cfg.clean_over_rewind and cfg.initial_primary
    assert cfg.voters == ("node1",) and cfg.settings == {} and cfg.allowed_networks == ("samenet",)


@pytest.mark.parametrize("name, raw, attribute, expected", [
    ("NODE_ID", "7", "node_id", 7),
    ("NODE_PRIORITY", "0", "priority", 0),
    ("CLUSTER_NAME", "prod", "cluster_name", "prod"),
    ("CLUSTER_NODE_NETWORK_NAME", "pgmaster", "host", "pgmaster"),
    ("POSTGRES_USER", "monkey_user", "postgres_user", "monkey_user"),
    ("POSTGRES_DB", "monkey_db", "postgres_db", "monkey_db"),
    ("REPLICATION_USER", "repl", "replication_user", "repl"),
    ("REPLICATION_DB", "repmgr", "replication_db", "repmgr"),
    ("CHECK_USER", "checker", "check_user", "checker"),
    ("CHECK_PASSWORD", "c:pw", "check_password", "c:pw"),
    ("BARMAN_USER", "backups", "barman_user", "backups"),
    ("BARMAN_PASSWORD", "b pw", "barman_password", "b pw"),
    ("APP_USER", "shop", "app_user", "shop"),
    ("APP_PASSWORD", "a pw", "app_password", "a pw"),
    ("REPLICATION_PRIMARY_HOST", "pgmaster", "upstream_host", "pgmaster"),
    ("REPLICATION_PRIMARY_PORT", "5433", "upstream_port", 5433),
    ("PARTNER_NODES", " pgmaster, pgslave1 ,,pgslave1", "partners", ("pgmaster", "pgslave1")),
    ("USE_REPLICATION_SLOTS", "0", "use_slots", False),
    ("CLEAN_OVER_REWIND", "yes", "clean_over_rewind", True),
    ("CONSISTENCY_MODE", "Partially strict", "consistency", "partially_strict"),
    ("FENCE_TIMEOUT", "2.5", "fence_timeout", 2.5),
    ("SYNCHRONOUS_BACKUP", "1", "synchronous_backup", True),
    ("CONFIGS", "max_connections:200,work_mem:8MB", "settings", {"max_connections": "200", "work_mem": "8MB"}),
    ("ALLOWED_NETWORKS", "samenet,10.0.0.0/8", "allowed_networks", ("samenet", "10.0.0.0/8")),
    ("PGDATA", "/data", "pgdata", "/data"),
    ("MONITOR_INTERVAL_SECS", "2", "monitor_interval", 2),
    ("RECONNECT_ATTEMPTS", "5", "reconnect_attempts", 5),
    ("RECONNECT_INTERVAL", "3", "reconnect_interval", 3),
    ("CONNECT_TIMEOUT", "4", "connect_timeout", 4),
    ("WAIT_UPSTREAM_TIMEOUT", "60", "wait_upstream_timeout", 60),
    ("STATUS_PORT", "9000", "status_port", 9000),
    ("LOG_LEVEL", "DEBUG", "log_level", "debug"),
    ("LOG_FORMAT", "JSON", "log_format", "json"),
    ("POSTGRES_EXPORTER_PORT", "0", "postgres_exporter_port", 0),
    ("CONTROL_PASSWORD", "s3cret", "control_password", "s3cret"),
    ("ROUTERS", "pgpool,pgpool2", "routers", ("pgpool", "pgpool2")),
    ("BACKUP_HOST", "backup", "backup", ("backup", 8080)),
    ("BACKUP_HOST", "barman:9090", "backup", ("barman", 9090)),
])
def test_each_variable(name, raw, attribute, expected):
    needs = {"APP_PASSWORD": "pw"} if name == "APP_USER" else {}
    assert getattr(load(**{name: raw}, **needs), attribute) == expected


def test_every_node_variable_is_tested():
    tested = {"NODE_NAME", "POSTGRES_PASSWORD", "REPLICATION_PASSWORD", "CONFIGS_DELIMITER_SYMBOL",
              "CONFIGS_ASSIGNMENT_SYMBOL"}
    tested |= {"TLS_REQUIRED", "TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"}  # test_tls.py
    tested |= {case[0] for case in test_each_variable.pytestmark[0].args[1]}
    assert {var.name for var in config.variables("node")} == tested


@pytest.mark.parametrize("changes, expected", [
    ({"NODE_NAME": None}, "NODE_NAME is required"),
    ({"APP_USER": "shop"}, "APP_PASSWORD is required with APP_USER=shop: set it (or APP_PASSWORD_FILE)."),
    ({"APP_USER": "bad name", "APP_PASSWORD": "x"}, "APP_USER='bad name' is not valid: expected a PostgreSQL identifier"),
    ({"POSTGRES_PASSWORD": None}, "POSTGRES_PASSWORD is required: set it (or POSTGRES_PASSWORD_FILE)"),
    ({"REPLICATION_PASSWORD": ""}, "REPLICATION_PASSWORD is required"),
    ({"NODE_NAME": "pgmaster"}, "NODE_ID is required: NODE_NAME='pgmaster' does not end with a number"),
    ({"NODE_NAME": "bad name"}, "NODE_NAME='bad name' is not valid: expected a name of letters"),
    ({"NODE_ID": "0"}, "NODE_ID='0' is not valid: expected an integer from 1 to 2147483647"),
    ({"NODE_PRIORITY": "high"}, "NODE_PRIORITY='high' is not valid: expected an integer from 0 to 1000"),
    ({"NODE_PRIORITY": "-1"}, "NODE_PRIORITY='-1' is not valid"),
    ({"REPLICATION_PRIMARY_PORT": "70000"}, "REPLICATION_PRIMARY_PORT='70000' is not valid: expected an integer from 1 to 65535"),
    ({"REPLICATION_PRIMARY_HOST": "pg master"}, "REPLICATION_PRIMARY_HOST='pg master' is not valid: expected a host name"),
    ({"PARTNER_NODES": "a,b c"}, "PARTNER_NODES='a,b c' is not valid: expected a comma-separated list of host names"),
    ({"USE_REPLICATION_SLOTS": "maybe"}, "USE_REPLICATION_SLOTS='maybe' is not valid: expected 1/0, true/false"),
    ({"POSTGRES_USER": "1user"}, "POSTGRES_USER='1user' is not valid: expected a PostgreSQL identifier"),
    ({"CONFIGS": "max_connections=200"}, "CONFIGS='max_connections=200' is not valid: expected name:value pairs"),
    ({"CONFIGS": "a:1,:2"}, "CONFIGS='a:1,:2' is not valid"),
    ({"ALLOWED_NETWORKS": "everywhere"}, "ALLOWED_NETWORKS='everywhere' is not valid: expected samenet or"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not valid: expected one of debug, info, warning, error"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' is not valid: expected one of text, json"),
    ({"POSTGRES_EXPORTER_PORT": "http"}, "POSTGRES_EXPORTER_PORT='http' is not valid: expected an integer from 0"),
    ({"CONNECT_TIMEOUT": "0"}, "CONNECT_TIMEOUT='0' is not valid"),
    ({"CONSISTENCY_MODE": "sync"}, "CONSISTENCY_MODE='sync' is not valid: expected one of eventual, partially_strict, strict"),
    ({"FENCE_TIMEOUT": "soon"}, "FENCE_TIMEOUT='soon' is not valid: expected a number of seconds"),
    ({"BACKUP_HOST": "backup:http"}, "BACKUP_HOST='backup:http' is not valid: expected a host name with an optional "
                                     "port, such as backup or backup:8080"),
    ({"SYNCHRONOUS_BACKUP": "1", "CONSISTENCY_MODE": "strict"},
     "SYNCHRONOUS_BACKUP=1 is not valid with CONSISTENCY_MODE=strict: expected CONSISTENCY_MODE=eventual"),
])
def test_bad_values_name_the_variable_and_the_form(changes, expected):
    found = problems(**changes)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_all_problems_are_reported_together():
    found = problems(POSTGRES_PASSWORD=None, NODE_PRIORITY="x", STATUS_PORT="0")
    assert [p.split()[0] for p in found] == ["NODE_PRIORITY='x'", "POSTGRES_PASSWORD", "STATUS_PORT='0'"]


def test_secret_values_are_never_echoed():
    found = problems(POSTGRES_PASSWORD=None, POSTGRES_PASSWORD_FILE="/nonexistent/secret")
    assert found == ["POSTGRES_PASSWORD_FILE=/nonexistent/secret cannot be read: No such file or directory"]


def test_secret_from_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret:with\\chars\n")
    cfg = load(POSTGRES_PASSWORD=None, POSTGRES_PASSWORD_FILE=str(secret))
    assert cfg.postgres_password == "s3cret:with\\chars"
    assert "s3cret" not in repr(cfg)
    assert "s3cret" not in "\n".join(config.describe("node", cfg))


def test_secret_and_file_both_set_is_an_error(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("x")
    assert problems(POSTGRES_PASSWORD_FILE=str(secret)) == [
        "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, not both"]


def test_configs_with_other_symbols():
    cfg = load(CONFIGS="search_path=a,b;work_mem=4MB", CONFIGS_DELIMITER_SYMBOL=";", CONFIGS_ASSIGNMENT_SYMBOL="=")
    assert cfg.settings == {"search_path": "a,b", "work_mem": "4MB"}


def test_configs_value_may_hold_the_assignment_symbol():
    assert load(CONFIGS="log_line_prefix:%m: ").settings == {"log_line_prefix": "%m:"}


@pytest.mark.parametrize("host, upstream, partners, initial, voters", [
    ("pgmaster", "pgmaster", "pgmaster,pgslave1,pgslave3", True, ("pgmaster", "pgslave1", "pgslave3")),
    ("pgmaster", "", "", True, ("pgmaster",)),
    ("pgslave1", "pgmaster", "pgmaster,pgslave1", False, ("pgmaster", "pgslave1")),
    ("pgslave4", "pgmaster", "pgmaster,pgslave1", False, ("pgmaster", "pgslave1", "pgslave4")),
])
def test_topology(host, upstream, partners, initial, voters):
    cfg = load(CLUSTER_NODE_NETWORK_NAME=host, REPLICATION_PRIMARY_HOST=upstream, PARTNER_NODES=partners)
    assert (cfg.initial_primary, cfg.voters) == (initial, voters)


def test_configuration_doc_is_generated_from_the_table():
    with open("doc/CONFIGURATION.md", encoding="utf-8") as handle:
        assert handle.read() == config.markdown(), "doc/CONFIGURATION.md is stale: run `make docs`"


@pytest.mark.parametrize("configs, expected", [
    ("port:5", "CONFIGS sets port, which pgcluster manages; remove it from CONFIGS."),
    ("shard_buffers:128MB", 'CONFIGS is not valid: unrecognized configuration parameter "shard_buffers"'),
    ("shared_buffers:lots", 'CONFIGS is not valid: invalid value for parameter "shared_buffers": "lots"'),
])
def test_configs_are_judged_by_the_loader_itself(configs, expected):
    found = problems(CONFIGS=configs)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_bad_configs_does_not_hide_other_problems():
    found = problems(CONFIGS="shard_buffers:1", NODE_PRIORITY="high")
    assert [p.split()[0] for p in found] == ["NODE_PRIORITY='high'", "CONFIGS"]


@pytest.mark.parametrize("role", sorted(config.LOADERS))
def test_describe_hides_exactly_the_spec_secrets(role):
    secret_fields = {var.field for var in config.variables(role) if var.secret}
    envs = {"node": BASE, "pgpool": {"BACKENDS": "0:a", "DB_USERS": "u:pw1", "CHECK_USER": "c",
                                     "CHECK_PASSWORD": "pw2", "PCP_PASSWORD": "pw3", **TLS_ENV},
            "barman": {"REPLICATION_HOST": "a", "REPLICATION_PASSWORD": "pw4", "POSTGRES_PASSWORD": "pw5", **TLS_ENV}}
    cfg = config.load(role, envs[role])
    lines = dict(line.split(" = ", 1) for line in config.describe(role, cfg))
    for name, shown in lines.items():
        if name in secret_fields:
            assert "pw" not in shown, (name, shown)
        else:
            assert shown == repr(getattr(cfg, name)), name
    assert secret_fields and secret_fields <= set(lines)


def test_health_checks_load_without_running_the_judges():
    env = {**BASE, "CONFIGS": "shard_buffers:128MB"}
    assert config.load("node", env, judge=False).settings == {"shard_buffers": "128MB"}
    assert problems(CONFIGS="shard_buffers:128MB")  # what the entrypoint and config check do
