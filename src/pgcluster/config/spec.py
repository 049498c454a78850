"""The environment spec table: every variable with its roles, default, parser, secrecy and doc.

It drives parsing, `pgcluster config check` and doc/CONFIGURATION.md. attr is
the field of the role's configuration that the value fills ("" for a
variable that only shapes another, such as CONFIGS_DELIMITER_SYMBOL).
"""
from dataclasses import dataclass

from .. import parsers as p

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
    attr: str = None  # None: the name in lower case

    @property
    def field(self):
        return self.name.lower() if self.attr is None else self.attr

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
ALL = NODE + PGPOOL + BARMAN

SPEC = (
    # --- identity -------------------------------------------------------------------
    Var("NODE_NAME", NODE, REQUIRED, p.node_name,
        "Name of this node in repmgr and in logs, such as node1."),
    Var("NODE_ID", NODE, DERIVED, p.integer(1, 2147483647),
        "repmgr node id; when absent, the number NODE_NAME ends with (node3 -> 3)."),
    Var("NODE_PRIORITY", NODE, "100", p.integer(0, 1000),
        "Failover priority among equally advanced standbys; 0 means never promoted.", attr="priority"),
    Var("CLUSTER_NAME", NODE, "pg_cluster", p.node_name,
        "Name of the cluster, shown in logs and in PostgreSQL's process titles."),
    Var("CLUSTER_NODE_NETWORK_NAME", NODE, DERIVED, p.host,
        "Host name other containers reach this node by; defaults to NODE_NAME.", attr="host"),
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
    Var("CHECK_USER", NODE, "pgpool_check", p.identifier,
        "User of the routers' health checks, watchers and metrics, made by the primary: pg_monitor, read-only."),
    Var("CHECK_PASSWORD", NODE, "", p.text,
        "Password of CHECK_USER (also as CHECK_PASSWORD_FILE); empty: the user is not made here.", secret=True),
    Var("BARMAN_USER", NODE, "barman", p.identifier,
        "User of the backups, made by the primary: REPLICATION, pg_read_all_settings, pg_read_all_stats, "
        "pg_checkpoint and the backup functions, not superuser."),
    Var("BARMAN_PASSWORD", NODE, "", p.text,
        "Password of BARMAN_USER (also as BARMAN_PASSWORD_FILE); empty: the user is not made here.", secret=True),
    Var("APP_USER", NODE, "", p.optional_identifier,
        "The application's user, made by the primary as the owner of POSTGRES_DB, not superuser; empty: none."),
    Var("APP_PASSWORD", NODE, "", p.text,
        "Password of APP_USER (also as APP_PASSWORD_FILE).", secret=True),
    # --- topology -------------------------------------------------------------------
    Var("REPLICATION_PRIMARY_HOST", NODE, "", p.optional_host,
        "Upstream this node clones from and follows; empty or equal to "
        "CLUSTER_NODE_NETWORK_NAME on the initial primary.", attr="upstream_host"),
    Var("REPLICATION_PRIMARY_PORT", NODE, "5432", p.integer(1, 65535),
        "PostgreSQL port of the upstream.", attr="upstream_port"),
    Var("PARTNER_NODES", NODE, "", p.host_list,
        "Comma-separated first-level nodes (the initial primary and its direct standbys) "
        "asked who the primary is at start, and counted for the majority.", attr="partners"),
    Var("USE_REPLICATION_SLOTS", NODE, "1", p.boolean,
        "Keep WAL for each standby in a replication slot.", attr="use_slots"),
    Var("CLEAN_OVER_REWIND", NODE, "0", p.boolean,
        "A former primary rejoins by a fresh clone instead of pg_rewind."),
    Var("CONSISTENCY_MODE", NODE, "eventual", p.consistency,
        "eventual: asynchronous replication; partially_strict: a commit waits for one standby unless "
        "none is connected; strict: a commit always waits for one standby, and failover promotes only "
        "a standby holding every acknowledged commit.", attr="consistency"),
    Var("SYNCHRONOUS_BACKUP", NODE, "0", p.boolean,
        "Commits wait until Barman's WAL receiver has them (zero data loss to the backups); needs "
        "CONSISTENCY_MODE=eventual, and commits block while Barman is down."),
    Var("FENCE_TIMEOUT", NODE, "3", p.seconds,
        "A primary that sees no majority of its partners for this many seconds restarts read-only "
        "(fences itself); a standby is promoted only after this time has passed."),
    # --- PostgreSQL settings ---------------------------------------------------------------
    Var("CONFIGS", NODE, "", p.text,
        "Extra PostgreSQL settings as name:value pairs, such as "
        "max_connections:200,shared_buffers:256MB; unknown names stop the start.", attr="settings"),
    Var("CONFIGS", PGPOOL, "", p.text,
        "Extra pgpool.conf settings as name:value pairs, such as num_init_children:64,"
        "delay_threshold:1048576; unknown names stop the start. delay_threshold (bytes, default 1048576, "
        "0 for off) is applied by the attach watcher, which gives a standby that far behind weight 0; "
        "sr_check_period is managed (0) and may not be set.", attr="settings"),
    Var("CONFIGS_DELIMITER_SYMBOL", NODE + PGPOOL, ",", p.text,
        "Separator between CONFIGS (and PGBOUNCER_CONFIGS) pairs.", attr=""),
    Var("CONFIGS_ASSIGNMENT_SYMBOL", NODE + PGPOOL, ":", p.text,
        "Separator between a name and its value in CONFIGS (and PGBOUNCER_CONFIGS).", attr=""),
    Var("ALLOWED_NETWORKS", NODE, "samenet", p.networks,
        "Who pg_hba.conf admits besides the node itself: comma-separated networks (CIDR), or `samenet` for "
        "every network the node's container is on (its partners, the routers, Barman, published ports)."),
    Var("PGDATA", NODE, "/var/lib/postgresql/data", p.text,
        "Data directory (a volume)."),
    # --- repmgr timing ------------------------------------------------------------------
    Var("MONITOR_INTERVAL_SECS", NODE, "1", p.integer(1, 3600),
        "repmgrd checks its upstream this often (seconds).", attr="monitor_interval"),
    Var("RECONNECT_ATTEMPTS", NODE, "3", p.integer(1, 100),
        "repmgrd tries this many times to reach a silent upstream before failing over."),
    Var("RECONNECT_INTERVAL", NODE, "1", p.integer(1, 3600),
        "Seconds between those attempts."),
    Var("CONNECT_TIMEOUT", NODE, "2", p.integer(1, 60),
        "Seconds a connection to another node may take before it counts as failed."),
    Var("WAIT_UPSTREAM_TIMEOUT", NODE, "300", p.integer(1, 86400),
        "A new standby waits this long for its upstream before the container exits."),
    # --- switchover -----------------------------------------------------------------------
    Var("CONTROL_PASSWORD", NODE + PGPOOL, "", p.text,
        "Shared secret of the control channel (POST /control on STATUS_PORT) that a switchover drives the "
        "nodes and routers through (also as CONTROL_PASSWORD_FILE); empty: every control request is refused.",
        secret=True),
    Var("ROUTERS", ALL, "", p.host_list,
        "The router containers (comma-separated) whose PgBouncer a switchover pauses and points at the new "
        "primary, and whose view `pgcluster status` shows; in a router container it names itself too."),
    Var("BACKUP_HOST", NODE + PGPOOL, "", p.optional_address(8080),
        "The backup container as host or host:port (its METRICS_PORT, default 8080), whose last backup "
        "`pgcluster status` shows; empty: not shown.", attr="backup"),
    # --- TLS (every container) -------------------------------------------------------------
    Var("TLS_REQUIRED", ALL, "1", p.boolean,
        "1: every connection between containers is encrypted and its server verified (libpq sslmode=verify-full, "
        "HTTPS with the CA), and PostgreSQL admits network clients over TLS only; 0: TLS is offered when the "
        "three TLS files exist, plain connections are admitted.", attr=""),
    Var("TLS_CA_FILE", ALL, "/run/secrets/tls_ca.crt", p.text,
        "The cluster's CA certificate (PEM), which every certificate must be signed by.", attr=""),
    Var("TLS_CERT_FILE", ALL, "/run/secrets/tls.crt", p.text,
        "This container's certificate (PEM), naming its host names (a node's: CLUSTER_NODE_NETWORK_NAME); "
        "replaced, it is checked and reloaded without a restart.", attr=""),
    Var("TLS_KEY_FILE", ALL, "/run/secrets/tls.key", p.text,
        "The certificate's private key (PEM); copied where only this container's user can read it.", attr=""),
    # --- every container ----------------------------------------------------------------
    Var("STATUS_PORT", ALL, "8008", p.integer(1, 65535),
        "Port of every node's status endpoint: served by each node, asked by its partners, "
        "the health checks, the router's watcher and the backup container's recovery."),
    Var("POSTGRES_EXPORTER_PORT", NODE, "9187", p.integer(0, 65535),
        "Port of prometheus-postgres-exporter (PostgreSQL's statistics for Prometheus); 0: not started."),
    Var("LOG_LEVEL", ALL, "INFO", p.choice("debug", "info", "warning", "error"),
        "Verbosity of pgcluster's own log lines."),
    Var("LOG_FORMAT", ALL, "text", p.choice("text", "json"),
        "text: one sentence a line after the time, node and level; json: one JSON object a line (time, level, "
        "node, component, event, message and a decision's fields), PostgreSQL's and the routers' lines too."),
    # --- pgpool -------------------------------------------------------------------------
    Var("BACKENDS", PGPOOL, REQUIRED, p.backends,
        "The PostgreSQL nodes, as num:host:port:weight:data_dir:flag entries separated by commas; "
        "empty fields take 5432, 1, /var/lib/postgresql/data and ALLOW_TO_FAILOVER."),
    Var("DB_USERS", PGPOOL, REQUIRED, p.credentials,
        "Database users clients log in as, user:password pairs separated by commas "
        "(also as DB_USERS_FILE); scram-sha-256 end to end.", secret=True),
    Var("CHECK_USER", PGPOOL, REQUIRED, p.identifier,
        "User for pgpool's health and replication checks; needs LOGIN and pg_monitor (the nodes' CHECK_USER)."),
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
    Var("PGBOUNCER_POOL_MODE", PGPOOL, "transaction", p.choice("transaction", "session", "statement"),
        "How PgBouncer (port 6432) shares server connections: transaction (a switchover pauses clients "
        "between transactions), session or statement."),
    Var("PGBOUNCER_DATABASES", PGPOOL, "", p.identifier_list,
        "Databases that also get a read-only pool, <name>_ro, over the standbys that stream from the "
        "primary; every database name reaches the primary through PgBouncer."),
    Var("PGBOUNCER_CONFIGS", PGPOOL, "", p.text,
        "Extra pgbouncer.ini settings as name:value pairs (separated like CONFIGS), such as "
        "default_pool_size:40; PgBouncer judges them before the start.", attr="pgbouncer_settings"),
    # --- backup -------------------------------------------------------------------------
    Var("REPLICATION_HOST", BARMAN, REQUIRED, p.host_list,
        "The node to back up, or a comma list of nodes: Barman reaches whichever is primary "
        "(libpq multi-host, target_session_attrs=read-write).", attr="hosts"),
    Var("REPLICATION_PORT", BARMAN, "5432", p.integer(1, 65535),
        "PostgreSQL port of those nodes.", attr="port"),
    Var("REPLICATION_USER", BARMAN, "replication_user", p.identifier,
        "User of the WAL stream (pg_receivewal) and of base backups' replication connection (REPLICATION: the "
        "nodes' BARMAN_USER has it)."),
    Var("REPLICATION_PASSWORD", BARMAN, REQUIRED, p.text,
        "Password of REPLICATION_USER (also as REPLICATION_PASSWORD_FILE).", secret=True),
    Var("POSTGRES_USER", BARMAN, "postgres", p.identifier,
        "User Barman runs its checks and backup functions as: a superuser, or the nodes' BARMAN_USER, which has "
        "exactly the rights Barman needs."),
    Var("POSTGRES_PASSWORD", BARMAN, REQUIRED, p.text,
        "Password of POSTGRES_USER (also as POSTGRES_PASSWORD_FILE).", secret=True),
    Var("POSTGRES_DB", BARMAN, "postgres", p.identifier,
        "Database Barman connects to."),
    Var("UPSTREAM_NAME", BARMAN, "pg_cluster", p.node_name,
        "Name of the cluster in Barman (its server name).", attr="server"),
    Var("REPLICATION_SLOT_NAME", BARMAN, "barman", p.identifier,
        "Replication slot of the WAL stream; created on whichever node is primary.", attr="slot"),
    Var("BACKUP_SCHEDULE", BARMAN, "0 3 * * *", p.cron,
        "When full base backups are taken, in cron syntax (UTC); one is also taken at first start "
        "and after every failover.", attr="schedule"),
    Var("INCREMENTAL_BACKUP_SCHEDULE", BARMAN, "", p.optional_cron,
        "When incremental base backups are taken (PostgreSQL 17's WAL summaries: only the blocks changed "
        "since the previous backup are copied), in cron syntax (UTC); empty for none.",
        attr="incremental_schedule"),
    Var("BACKUP_RETENTION_DAYS", BARMAN, "7", p.integer(1, 3650),
        "Recovery window: backups and WAL older than needed for this many days are removed.",
        attr="retention_days"),
    Var("BACKUP_DIR", BARMAN, "/var/lib/barman", p.text,
        "Where backups and WAL are kept (a volume)."),
    Var("METRICS_PORT", BARMAN, "8080", p.integer(1, 65535),
        "Port of the Prometheus metrics endpoint (/metrics)."),
)


def variables(role):
    return [var for var in SPEC if role in var.roles]
