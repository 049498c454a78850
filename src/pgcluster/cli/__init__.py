"""The `pgcluster` command: container entrypoints, checks and operator tools (wiring only)."""
import click

from . import checks, containers, operate


@click.group()
def main():
    """Configure, supervise and check the postgis-cluster containers."""


for command in (containers.node, containers.pgpool, containers.barman_group, operate.status, operate.history,
                operate.switchover, operate.backup, operate.recover, checks.config_group, checks.health):
    main.add_command(command)
