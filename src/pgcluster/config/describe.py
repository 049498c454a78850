"""`pgcluster config check` output and doc/CONFIGURATION.md, both from the spec table."""
from dataclasses import fields

from .spec import variables


def describe(role, config):
    """name = value lines of a role's configuration; every secret of the spec shown as (set)."""
    secret = {var.field for var in variables(role) if var.secret}
    lines = []
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name in secret:
            value = [user for user, _ in value] if f.name == "db_users" else "(set)"
        lines.append(f"{f.name} = {value!r}")
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
        "generated from the spec table in `src/pgcluster/config/spec.py` (`make docs`); a unit",
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
    out += USERS
    return "\n".join(out).rstrip("\n") + "\n"


USERS = [
    "## Users and their rights",
    "",
    "Only `POSTGRES_USER` is a superuser. The initial primary makes the replication user; every primary, each",
    "time it starts serving, makes or updates the others whose password it has (src/pgcluster/node/roles.py):",
    "",
    "| User (default compose name) | Used by | Rights |",
    "|---|---|---|",
    "| `REPLICATION_USER` (`replication_user`) | streaming replication, repmgr, pg_rewind | `REPLICATION`, "
    "`pg_monitor`, `pg_checkpoint`; owns `REPLICATION_DB`; `EXECUTE` on `pg_promote`, `pg_wal_replay_resume` and "
    "the file functions pg_rewind needs, in `REPLICATION_DB` only |",
    "| `CHECK_USER` (`pgpool_check`) | pgpool's health checks, the routers' watchers and metrics | `pg_monitor`; "
    "sessions read-only (`default_transaction_read_only`) |",
    "| `BARMAN_USER` (`barman`) | Barman: WAL stream, base backups, `barman check` | `REPLICATION`, "
    "`pg_read_all_settings`, `pg_read_all_stats`, `pg_checkpoint`; `EXECUTE` on `pg_backup_start`, `pg_backup_stop`, "
    "`pg_switch_wal`, `pg_create_restore_point`, `pg_read_file(text)` (a timeline's history), in database "
    "`postgres` |",
    "| `APP_USER` (`app`) | the application, through the routers | owns `POSTGRES_DB` (creates in its `public` "
    "schema); nothing else |",
    "",
    "None of them can read the application's tables except `APP_USER` (its own) and the superuser; clients",
    "outside the container networks and `ALLOWED_NETWORKS` are refused by `pg_hba.conf`.",
    "",
]
