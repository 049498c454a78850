"""The environment spec table and the frozen configuration of each container role.

One table (SPEC) names every variable with its default, parser, secrecy and a
one-line doc. It drives parsing, `pgcluster config check` and
doc/CONFIGURATION.md. Nothing else in pgcluster reads os.environ.
"""
import os
from dataclasses import dataclass, field

from . import parsers as p
from .errors import ConfigError

REQUIRED = object()  # no default: the variable must be set
DERIVED = object()   # no default: computed from other variables when absent


@dataclass(frozen=True)
class Var:
    name: str
    roles: tuple
    default: object
    parse: object
    doc: str
    secret: bool = False

    @property
    def default_text(self):
        if self.default is REQUIRED:
            return "required"
        if self.default is DERIVED:
            return "derived"
        return f"`{self.default}`" if self.default != "" else "empty"


NODE = ("node",)
PGPOOL = ("pgpool",)
BARMAN = ("barman",)

SPEC = (
    # --- identity -------------------------------------------------------------------
    Var("NODE_NAME", NODE, REQUIRED, p.node_name,
        "Name of this node in repmgr and in logs, such as node1."),
    Var("NODE_ID", NODE, DERIVED, p.integer(1, 2147483647),
        "repmgr node id; when absent, the number NODE_NAME ends with (node3 -> 3)."),
    Var("NODE_PRIORITY", NODE, "100", p.integer(0, 1000),
        "Failover priority among equally advanced standbys; 0 means never promoted."),
    Var("CLUSTER_NAME", NODE, "pg_cluster", p.node_name,
        "Name of the cluster, shown in logs and in PostgreSQL's process titles."),
    Var("CLUSTER_NODE_NETWORK_NAME", NODE, DERIVED, p.host,
        "Host name other containers reach this node by; defaults to NODE_NAME."),
    # --- database and users ------------------------------------------------------------
    Var("POSTGRES_USER", NODE, "postgres", p.identifier,
        "Database superuser created at initialisation."),
    Var("POSTGRES_PASSWORD", NODE, REQUIRED, p.text,
        "Password of POSTGRES_USER (no default; also as POSTGRES_PASSWORD_FILE).", secret=True),
    Var("POSTGRES_DB", NODE, DERIVED, p.identifier,
        "Database created at initialisation, with PostGIS; defaults to POSTGRES_USER."),
    Var("REPLICATION_USER", NODE, "replication_user", p.identifier,
        "User for replication and repmgr; has only the rights repmgr needs, not superuser."),
    Var("REPLICATION_PASSWORD", NODE, REQUIRED, p.text,
        "Password of REPLICATION_USER (no default; also as REPLICATION_PASSWORD_FILE).", secret=True),
    Var("REPLICATION_DB", NODE, "replication_db", p.identifier,
        "Database holding repmgr's metadata."),
    # --- topology -------------------------------------------------------------------
    Var("REPLICATION_PRIMARY_HOST", NODE, "", p.optional_host,
        "Upstream this node clones from and follows; empty or equal to "
        "CLUSTER_NODE_NETWORK_NAME on the initial primary."),
    Var("REPLICATION_PRIMARY_PORT", NODE, "5432", p.integer(1, 65535),
        "PostgreSQL port of the upstream."),
    Var("PARTNER_NODES", NODE, "", p.host_list,
        "Comma-separated first-level nodes (the initial primary and its direct standbys) "
        "asked who the primary is at start, and counted for the majority."),
    Var("USE_REPLICATION_SLOTS", NODE, "1", p.boolean,
        "Keep WAL for each standby in a replication slot."),
    Var("CLEAN_OVER_REWIND", NODE, "0", p.boolean,
        "A former primary rejoins by a fresh clone instead of pg_rewind."),
    Var("CONSISTENCY_MODE", NODE, "eventual", p.consistency,
        "eventual: asynchronous replication; partially_strict: a commit waits for one standby unless "
        "none is connected; strict: a commit always waits for one standby, and failover promotes only "
        "a standby holding every acknowledged commit."),
    Var("SYNCHRONOUS_BACKUP", NODE, "0", p.boolean,
        "Commits wait until Barman's WAL receiver has them (zero data loss to the backups); needs "
        "CONSISTENCY_MODE=eventual, and commits block while Barman is down."),
    Var("FENCE_TIMEOUT", NODE, "3", p.seconds,
        "A primary that sees no majority of its partners for this many seconds restarts read-only "
        "(fences itself); a standby is promoted only after this time has passed."),
    # --- PostgreSQL settings ---------------------------------------------------------------
    Var("CONFIGS", NODE, "", p.text,
        "Extra PostgreSQL settings as name:value pairs, such as "
        "max_connections:200,shared_buffers:256MB; unknown names stop the start."),
    Var("CONFIGS_DELIMITER_SYMBOL", NODE, ",", p.text,
        "Separator between CONFIGS pairs."),
    Var("CONFIGS_ASSIGNMENT_SYMBOL", NODE, ":", p.text,
        "Separator between a name and its value in CONFIGS."),
    Var("ALLOWED_NETWORKS", NODE, "samenet", p.text,
        "Comma-separated addresses (CIDR) admitted by pg_hba.conf besides the cluster's "
        "own network; `samenet` admits the container networks only."),
    Var("PGDATA", NODE, "/var/lib/postgresql/data", p.text,
        "Data directory (a volume)."),
    # --- repmgr timing ------------------------------------------------------------------
    Var("MONITOR_INTERVAL_SECS", NODE, "1", p.integer(1, 3600),
        "repmgrd checks its upstream this often (seconds)."),
    Var("RECONNECT_ATTEMPTS", NODE, "3", p.integer(1, 100),
        "repmgrd tries this many times to reach a silent upstream before failing over."),
    Var("RECONNECT_INTERVAL", NODE, "1", p.integer(1, 3600),
        "Seconds between those attempts."),
    Var("CONNECT_TIMEOUT", NODE, "2", p.integer(1, 60),
        "Seconds a connection to another node may take before it counts as failed."),
    Var("WAIT_UPSTREAM_TIMEOUT", NODE, "300", p.integer(1, 86400),
        "A new standby waits this long for its upstream before the container exits."),
    Var("STATUS_PORT", NODE, "8008", p.integer(1, 65535),
        "Port of the node's status endpoint, asked by partners and health checks."),
    Var("LOG_LEVEL", NODE + PGPOOL, "INFO", p.choice("debug", "info", "warning", "error"),
        "Verbosity of pgcluster's own log lines."),
    # --- pgpool -------------------------------------------------------------------------
    Var("BACKENDS", PGPOOL, REQUIRED, p.backends,
        "The PostgreSQL nodes, as num:host:port:weight:data_dir:flag entries separated by commas; "
        "empty fields take 5432, 1, /var/lib/postgresql/data and ALLOW_TO_FAILOVER."),
    Var("DB_USERS", PGPOOL, REQUIRED, p.credentials,
        "Database users clients log in as, user:password pairs separated by commas "
        "(also as DB_USERS_FILE); scram-sha-256 end to end.", secret=True),
    Var("CHECK_USER", PGPOOL, REQUIRED, p.identifier,
        "User for pgpool's health and replication checks; needs LOGIN and pg_monitor."),
    Var("CHECK_PASSWORD", PGPOOL, REQUIRED, p.text,
        "Password of CHECK_USER (also as CHECK_PASSWORD_FILE).", secret=True),
    Var("PCP_USER", PGPOOL, "pcp_user", p.identifier,
        "User of pgpool's control port (PCP), used by the health checks and the attach watcher."),
    Var("PCP_PASSWORD", PGPOOL, REQUIRED, p.text,
        "Password of PCP_USER (also as PCP_PASSWORD_FILE).", secret=True),
    Var("REQUIRE_MIN_BACKENDS", PGPOOL, "0", p.integer(0, 128),
        "pgpool starts only once this many backends accept connections."),
    Var("WAIT_BACKEND_TIMEOUT", PGPOOL, "120", p.integer(1, 86400),
        "Seconds to wait for REQUIRE_MIN_BACKENDS before the container exits."),
    Var("CONFIGS", PGPOOL, "", p.text,
        "Extra pgpool.conf settings as name:value pairs, such as num_init_children:64,"
        "delay_threshold:1048576; unknown names stop the start. delay_threshold (bytes, default 1048576, "
        "0 for off) is applied by the attach watcher, which gives a standby that far behind weight 0; "
        "sr_check_period is managed (0) and may not be set."),
    Var("CONFIGS_DELIMITER_SYMBOL", PGPOOL, ",", p.text,
        "Separator between CONFIGS pairs."),
    Var("CONFIGS_ASSIGNMENT_SYMBOL", PGPOOL, ":", p.text,
        "Separator between a name and its value in CONFIGS."),
    Var("STATUS_PORT", PGPOOL, "8008", p.integer(1, 65535),
        "Port of the nodes' status endpoints, asked before a backend is attached again."),
    # --- backup -------------------------------------------------------------------------
    Var("REPLICATION_HOST", BARMAN, REQUIRED, p.host_list,
        "The node to back up, or a comma list of nodes: Barman reaches whichever is primary "
        "(libpq multi-host, target_session_attrs=read-write)."),
    Var("REPLICATION_PORT", BARMAN, "5432", p.integer(1, 65535),
        "PostgreSQL port of those nodes."),
    Var("REPLICATION_USER", BARMAN, "replication_user", p.identifier,
        "User of the WAL stream (pg_receivewal) and of base backups' replication connection."),
    Var("REPLICATION_PASSWORD", BARMAN, REQUIRED, p.text,
        "Password of REPLICATION_USER (also as REPLICATION_PASSWORD_FILE).", secret=True),
    Var("POSTGRES_USER", BARMAN, "postgres", p.identifier,
        "Superuser Barman runs its checks and backup functions as."),
    Var("POSTGRES_PASSWORD", BARMAN, REQUIRED, p.text,
        "Password of POSTGRES_USER (also as POSTGRES_PASSWORD_FILE).", secret=True),
    Var("POSTGRES_DB", BARMAN, "postgres", p.identifier,
        "Database Barman connects to."),
    Var("UPSTREAM_NAME", BARMAN, "pg_cluster", p.node_name,
        "Name of the cluster in Barman (its server name)."),
    Var("REPLICATION_SLOT_NAME", BARMAN, "barman", p.identifier,
        "Replication slot of the WAL stream; created on whichever node is primary."),
    Var("BACKUP_SCHEDULE", BARMAN, "0 3 * * *", p.cron,
        "When base backups are taken, in cron syntax (UTC); one is also taken at first start "
        "and after every failover."),
    Var("BACKUP_RETENTION_DAYS", BARMAN, "7", p.integer(1, 3650),
        "Recovery window: backups and WAL older than needed for this many days are removed."),
    Var("BACKUP_DIR", BARMAN, "/var/lib/barman", p.text,
        "Where backups and WAL are kept (a volume)."),
    Var("METRICS_PORT", BARMAN, "8080", p.integer(1, 65535),
        "Port of the Prometheus metrics endpoint (/metrics)."),
    Var("STATUS_PORT", BARMAN, "8008", p.integer(1, 65535),
        "Port of the nodes' status endpoints, asked during a recovery."),
    Var("LOG_LEVEL", BARMAN, "INFO", p.choice("debug", "info", "warning", "error"),
        "Verbosity of pgcluster's own log lines."),
)


def variables(role):
    return [var for var in SPEC if role in var.roles]


def _read(var, env):
    """The raw string for var (from NAME or NAME_FILE), or None when unset."""
    value = env.get(var.name)
    if var.secret:
        path = env.get(var.name + "_FILE")
        if path and value:
            raise ValueError(f"set {var.name} or {var.name}_FILE, not both")
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    value = handle.read().rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{var.name}_FILE={path} cannot be read: {exc.strerror}") from None
    return value if value not in (None, "") else None


def read(role, env):
    """Parse every variable of a role; all problems are raised together."""
    values, problems = {}, []
    for var in variables(role):
        try:
            raw = _read(var, env)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if raw is None:
            if var.default is REQUIRED:
                also = f" (or {var.name}_FILE)" if var.secret else ""
                problems.append(f"{var.name} is required: set it{also}. {var.doc}")
                continue
            if var.default is DERIVED:
                values[var.name] = None
                continue
            raw = var.default
        try:
            values[var.name] = var.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if var.secret else repr(raw)
            problems.append(f"{var.name}={shown} is not valid: expected {exc}.")
    if problems:
        raise ConfigError(problems)
    return values


@dataclass(frozen=True)
class NodeConfig:
    node_name: str
    node_id: int
    priority: int
    cluster_name: str
    host: str
    postgres_user: str
    postgres_password: str = field(repr=False)
    postgres_db: str
    replication_user: str
    replication_password: str = field(repr=False)
    replication_db: str
    upstream_host: str
    upstream_port: int
    partners: tuple
    use_slots: bool
    clean_over_rewind: bool
    consistency: str
    synchronous_backup: bool
    fence_timeout: float
    settings: dict
    allowed_networks: tuple
    pgdata: str
    monitor_interval: int
    reconnect_attempts: int
    reconnect_interval: int
    connect_timeout: int
    wait_upstream_timeout: int
    status_port: int
    log_level: str

    @property
    def initial_primary(self):
        """True on the node the cluster is first initialised on."""
        return self.upstream_host in ("", self.host)

    @property
    def voters(self):
        """First-level nodes counted for a majority, this one included, in listed order."""
        if not self.partners:
            return (self.host,)
        return self.partners if self.host in self.partners else self.partners + (self.host,)


def load_node(env=None):
    """The node configuration from the environment, or ConfigError listing every problem."""
    env = os.environ if env is None else env
    v = read("node", env)
    problems = []
    node_id = v["NODE_ID"] or p.trailing_number(v["NODE_NAME"])
    if not node_id:
        problems.append(
            f"NODE_ID is required: NODE_NAME={v['NODE_NAME']!r} does not end with a number, "
            "so set NODE_ID to a whole number from 1 to 2147483647."
        )
    try:
        settings = p.settings(v["CONFIGS"], v["CONFIGS_DELIMITER_SYMBOL"], v["CONFIGS_ASSIGNMENT_SYMBOL"])
    except ValueError as exc:
        problems.append(f"CONFIGS={v['CONFIGS']!r} is not valid: expected {exc}.")
        settings = {}
    if v["SYNCHRONOUS_BACKUP"] and v["CONSISTENCY_MODE"] != "eventual":
        problems.append(f"SYNCHRONOUS_BACKUP=1 is not valid with CONSISTENCY_MODE={v['CONSISTENCY_MODE']}: "
                        "expected CONSISTENCY_MODE=eventual, since a commit can wait for one kind of "
                        "acknowledgement only (Barman's, or a standby's).")
    networks = tuple(n.strip() for n in v["ALLOWED_NETWORKS"].split(",") if n.strip())
    for network in networks:
        if network not in ("samenet", "samehost") and not _is_cidr(network):
            problems.append(
                f"ALLOWED_NETWORKS={v['ALLOWED_NETWORKS']!r} is not valid: expected samenet or "
                "comma-separated networks in CIDR form, such as 10.0.0.0/8."
            )
            break
    if problems:
        raise ConfigError(problems)
    return NodeConfig(
        node_name=v["NODE_NAME"],
        node_id=node_id,
        priority=v["NODE_PRIORITY"],
        cluster_name=v["CLUSTER_NAME"],
        host=v["CLUSTER_NODE_NETWORK_NAME"] or v["NODE_NAME"],
        postgres_user=v["POSTGRES_USER"],
        postgres_password=v["POSTGRES_PASSWORD"],
        postgres_db=v["POSTGRES_DB"] or v["POSTGRES_USER"],
        replication_user=v["REPLICATION_USER"],
        replication_password=v["REPLICATION_PASSWORD"],
        replication_db=v["REPLICATION_DB"],
        upstream_host=v["REPLICATION_PRIMARY_HOST"],
        upstream_port=v["REPLICATION_PRIMARY_PORT"],
        partners=v["PARTNER_NODES"],
        use_slots=v["USE_REPLICATION_SLOTS"],
        clean_over_rewind=v["CLEAN_OVER_REWIND"],
        consistency=v["CONSISTENCY_MODE"],
        synchronous_backup=v["SYNCHRONOUS_BACKUP"],
        fence_timeout=v["FENCE_TIMEOUT"],
        settings=settings,
        allowed_networks=networks,
        pgdata=v["PGDATA"],
        monitor_interval=v["MONITOR_INTERVAL_SECS"],
        reconnect_attempts=v["RECONNECT_ATTEMPTS"],
        reconnect_interval=v["RECONNECT_INTERVAL"],
        connect_timeout=v["CONNECT_TIMEOUT"],
        wait_upstream_timeout=v["WAIT_UPSTREAM_TIMEOUT"],
        status_port=v["STATUS_PORT"],
        log_level=v["LOG_LEVEL"],
    )


def _is_cidr(text):
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return "/" in text


@dataclass(frozen=True)
class PgpoolConfig:
    backends: tuple
    db_users: tuple = field(repr=False)
    check_user: str
    check_password: str = field(repr=False)
    pcp_user: str
    pcp_password: str = field(repr=False)
    require_min_backends: int
    wait_backend_timeout: int
    settings: dict
    status_port: int
    log_level: str


def load_pgpool(env=None):
    """The pgpool configuration from the environment, or ConfigError listing every problem."""
    env = os.environ if env is None else env
    v = read("pgpool", env)
    try:
        settings = p.settings(v["CONFIGS"], v["CONFIGS_DELIMITER_SYMBOL"], v["CONFIGS_ASSIGNMENT_SYMBOL"])
    except ValueError as exc:
        raise ConfigError([f"CONFIGS={v['CONFIGS']!r} is not valid: expected {exc}."]) from None
    if v["REQUIRE_MIN_BACKENDS"] > len(v["BACKENDS"]):
        raise ConfigError([f"REQUIRE_MIN_BACKENDS={v['REQUIRE_MIN_BACKENDS']} is not valid: expected at most "
                           f"the {len(v['BACKENDS'])} backends listed in BACKENDS."])
    return PgpoolConfig(
        backends=v["BACKENDS"], db_users=v["DB_USERS"], check_user=v["CHECK_USER"],
        check_password=v["CHECK_PASSWORD"], pcp_user=v["PCP_USER"], pcp_password=v["PCP_PASSWORD"],
        require_min_backends=v["REQUIRE_MIN_BACKENDS"], wait_backend_timeout=v["WAIT_BACKEND_TIMEOUT"],
        settings=settings, status_port=v["STATUS_PORT"], log_level=v["LOG_LEVEL"])


@dataclass(frozen=True)
class BarmanConfig:
    hosts: tuple
    port: int
    replication_user: str
    replication_password: str = field(repr=False)
    postgres_user: str
    postgres_password: str = field(repr=False)
    postgres_db: str
    server: str
    slot: str
    schedule: str
    retention_days: int
    backup_dir: str
    metrics_port: int
    status_port: int
    log_level: str


def load_barman(env=None):
    """The backup configuration from the environment, or ConfigError listing every problem."""
    env = os.environ if env is None else env
    v = read("barman", env)
    return BarmanConfig(
        hosts=v["REPLICATION_HOST"], port=v["REPLICATION_PORT"], replication_user=v["REPLICATION_USER"],
        replication_password=v["REPLICATION_PASSWORD"], postgres_user=v["POSTGRES_USER"],
        postgres_password=v["POSTGRES_PASSWORD"], postgres_db=v["POSTGRES_DB"], server=v["UPSTREAM_NAME"],
        slot=v["REPLICATION_SLOT_NAME"], schedule=v["BACKUP_SCHEDULE"], retention_days=v["BACKUP_RETENTION_DAYS"],
        backup_dir=v["BACKUP_DIR"], metrics_port=v["METRICS_PORT"], status_port=v["STATUS_PORT"],
        log_level=v["LOG_LEVEL"])


LOADERS = {"node": load_node, "pgpool": load_pgpool, "barman": load_barman}


def describe(config):
    """Name = value lines for `pgcluster config check`, secrets hidden."""
    lines = []
    for name, value in vars(config).items():
        if "password" in name:
            value = "(set)"
        elif name == "db_users":
            value = [user for user, _ in value]
        lines.append(f"{name} = {value!r}")
    return lines


def markdown():
    """doc/CONFIGURATION.md, generated from SPEC."""
    titles = {"node": "PostgreSQL nodes (image `postgis`)",
              "pgpool": "Router (image `pgpool`)",
              "barman": "Backups (image `barman`)"}
    out = [
        "# Configuration",
        "",
        "Every container is configured by environment variables only. This file is",
        "generated from the spec table in `src/pgcluster/config.py` (`make docs`); a unit",
        "test fails when the two differ.",
        "",
        "Every secret is also accepted as `NAME_FILE`, the path of a file holding it",
        "(Docker secrets); setting both is an error. There are no default passwords.",
        "A missing or malformed value stops the container with one line naming the",
        "variable and the expected form, before anything is written.",
        "",
    ]
    for role, title in titles.items():
        rows = variables(role)
        if not rows:
            continue
        out += [f"## {title}", "", "| Variable | Default | Meaning |", "|---|---|---|"]
        for var in rows:
            secret = " Secret." if var.secret else ""
            out.append(f"| `{var.name}` | {var.default_text} | {var.doc}{secret} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
