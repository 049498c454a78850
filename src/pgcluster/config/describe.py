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
    return "\n".join(out).rstrip("\n") + "\n"
