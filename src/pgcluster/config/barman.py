"""The backup container's configuration."""
from dataclasses import dataclass, field

from .read import build, read, tls


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
    incremental_schedule: str
    retention_days: int
    backup_dir: str
    metrics_port: int
    routers: tuple
    status_port: int
    log_level: str
    log_format: str
    tls: object  # tls.Tls


def load_barman(env, judge=True):
    """The backup configuration, or ConfigError listing every problem."""
    v, problems = read("barman", env)
    return build(BarmanConfig, "barman", v, problems, tls=tls(v, problems))
