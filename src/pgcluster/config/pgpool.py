"""The router's configuration: pgpool-II and PgBouncer."""
from dataclasses import dataclass, field

from .read import build, read, settings, tls


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
    pgbouncer_pool_mode: str
    pgbouncer_databases: tuple
    pgbouncer_settings: dict
    control_password: str = field(repr=False)
    routers: tuple
    backup: tuple
    status_port: int
    log_level: str
    log_format: str
    tls: object  # tls.Tls


def load_pgpool(env, judge=True):
    """The router configuration, or ConfigError listing every problem, CONFIGS judged against pgpool's
    own list of settings included."""
    from ..pgpool import pgbouncer  # runs PgBouncer on the settings
    from ..pgpool import settings as pgpool_settings  # reads the pgpool package's sample configuration

    v, problems = read("pgpool", env)
    if "REQUIRE_MIN_BACKENDS" in v and "BACKENDS" in v and v["REQUIRE_MIN_BACKENDS"] > len(v["BACKENDS"]):
        problems.append(f"REQUIRE_MIN_BACKENDS={v['REQUIRE_MIN_BACKENDS']} is not valid: expected at most "
                        f"the {len(v['BACKENDS'])} backends listed in BACKENDS.")
    configs = settings(v, problems)
    problems += pgpool_settings.problems(configs, judge)
    bouncer = settings(v, problems, "PGBOUNCER_CONFIGS")
    problems += pgbouncer.problems(bouncer, v.get("PGBOUNCER_POOL_MODE", "transaction"), judge)
    return build(PgpoolConfig, "pgpool", v, problems, settings=configs, pgbouncer_settings=bouncer,
                 tls=tls(v, problems))
