"""The PostgreSQL node's configuration."""
from dataclasses import dataclass, field

from .. import parsers as p
from .read import build, read, settings, tls


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
    check_user: str
    check_password: str = field(repr=False)
    barman_user: str
    barman_password: str = field(repr=False)
    app_user: str
    app_password: str = field(repr=False)
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
    control_password: str = field(repr=False)
    routers: tuple
    backup: tuple
    status_port: int
    postgres_exporter_port: int
    log_level: str
    log_format: str
    tls: object  # tls.Tls

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


def load_node(env, judge=True):
    """The node configuration, or ConfigError listing every problem, CONFIGS judged by PostgreSQL included."""
    from ..node import settings as pg_settings  # runs the node image's postgres binary

    v, problems = read("node", env)
    node_id = v.get("NODE_ID") or p.trailing_number(v.get("NODE_NAME", ""))
    if not node_id and "NODE_NAME" in v:
        problems.append(
            f"NODE_ID is required: NODE_NAME={v['NODE_NAME']!r} does not end with a number, "
            "so set NODE_ID to a whole number from 1 to 2147483647.")
    if v.get("SYNCHRONOUS_BACKUP") and v.get("CONSISTENCY_MODE", "eventual") != "eventual":
        problems.append(f"SYNCHRONOUS_BACKUP=1 is not valid with CONSISTENCY_MODE={v['CONSISTENCY_MODE']}: "
                        "expected CONSISTENCY_MODE=eventual, since a commit can wait for one kind of "
                        "acknowledgement only (Barman's, or a standby's).")
    if v.get("APP_USER") and not v.get("APP_PASSWORD"):
        problems.append(f"APP_PASSWORD is required with APP_USER={v['APP_USER']}: set it (or APP_PASSWORD_FILE).")
    configs = settings(v, problems)
    problems += pg_settings.problems(configs, judge)
    host = v.get("CLUSTER_NODE_NETWORK_NAME") or v.get("NODE_NAME")
    return build(NodeConfig, "node", v, problems, node_id=node_id, settings=configs, host=host,
                 tls=tls(v, problems, name=host),
                 postgres_db=v.get("POSTGRES_DB") or v.get("POSTGRES_USER"))
