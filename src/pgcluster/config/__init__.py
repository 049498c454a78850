"""The frozen configuration of each container role, from the environment only.

Nothing else in pgcluster reads os.environ. Every loader gathers every problem
(a missing or malformed variable, CONFIGS as the component itself judges it)
and raises them together in one ConfigError.
"""
import os

from .barman import BarmanConfig, load_barman
from .describe import describe, markdown
from .node import NodeConfig, load_node
from .pgpool import PgpoolConfig, load_pgpool
from .spec import SPEC, Var, variables

LOADERS = {"node": load_node, "pgpool": load_pgpool, "barman": load_barman}


def role_here(env=None):
    """The role of the container this runs in, from the variable only that role requires."""
    env = os.environ if env is None else env
    for role, marker in (("node", "NODE_NAME"), ("pgpool", "BACKENDS"), ("barman", "REPLICATION_HOST")):
        if env.get(marker):
            return role
    return None


def load(role, env=None, judge=True):
    """The role's configuration from env (default: this process's environment).

    judge=False leaves out the checks that run a component's own program (CONFIGS as PostgreSQL or pgpool
    judges it): for the health checks, which run every few seconds and read no setting those cover. An
    entrypoint and `pgcluster config check` always judge.
    """
    return LOADERS[role](os.environ if env is None else env, judge)


__all__ = ["BarmanConfig", "LOADERS", "NodeConfig", "PgpoolConfig", "SPEC", "Var", "describe", "load",
           "load_barman", "load_node", "load_pgpool", "markdown", "role_here", "variables"]
