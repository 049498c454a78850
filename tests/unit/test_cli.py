"""`pgcluster config check` accepts and refuses exactly the environments the entrypoints do."""
import pytest
from click.testing import CliRunner

from pgcluster.cli import main

from .goldens import BARMAN_ENV, NODE_ENV, PGPOOL_ENV

BAD = [
    ("node", {**NODE_ENV, "CONFIGS": "port:5"}, "CONFIGS sets port, which pgcluster manages"),
    ("node", {**NODE_ENV, "CONFIGS": "shard_buffers:128MB", "CONFIGS_DELIMITER_SYMBOL": ","},
     'CONFIGS is not valid: unrecognized configuration parameter "shard_buffers"'),
    ("node", {**NODE_ENV, "NODE_PRIORITY": "high", "POSTGRES_PASSWORD": ""}, "NODE_PRIORITY='high' is not valid"),
    ("node", {**NODE_ENV, "ALLOWED_NETWORKS": "everywhere"}, "ALLOWED_NETWORKS='everywhere' is not valid"),
    ("pgpool", {**PGPOOL_ENV, "CONFIGS": "num_init_childs:64", "REQUIRE_MIN_BACKENDS": "9"},
     "REQUIRE_MIN_BACKENDS=9 is not valid"),
    ("pgpool", {**PGPOOL_ENV, "BACKENDS": "pgmaster"}, "BACKENDS='pgmaster' is not valid"),
    ("barman", {**BARMAN_ENV, "BACKUP_SCHEDULE": "0 25 * * *"}, "BACKUP_SCHEDULE='0 25 * * *' is not valid"),
]
ENTRYPOINTS = {"node": ["node", "run"], "pgpool": ["pgpool", "run"], "barman": ["barman", "run"]}


def invoke(args, env):
    # CliRunner's env adds to the process environment: clear every variable the spec knows first.
    from pgcluster import config

    names = {var.name for var in config.SPEC} | {f"{var.name}_FILE" for var in config.SPEC if var.secret}
    return CliRunner().invoke(main, args, env={**dict.fromkeys(names), **env})


@pytest.mark.parametrize("role, env, message", BAD)
def test_config_check_and_the_entrypoint_refuse_the_same_environment_the_same_way(role, env, message):
    checked = invoke(["config", "check", "--role", role], env)
    started = invoke(ENTRYPOINTS[role], env)
    assert checked.exit_code == started.exit_code == 1
    assert checked.output == started.output
    assert message in checked.output and all(line.startswith("pgcluster: ") for line in checked.output.splitlines())


def test_every_problem_is_one_line_of_the_same_run():
    out = invoke(["config", "check", "--role", "pgpool"], BAD[4][1]).output.splitlines()
    assert len(out) == 2 and "REQUIRE_MIN_BACKENDS" in out[0] and "num_init_childs" in out[1]


@pytest.mark.parametrize("role, env", [("node", NODE_ENV), ("pgpool", PGPOOL_ENV), ("barman", BARMAN_ENV)])
def test_config_check_prints_a_good_environment_without_its_secrets(role, env):
    secrets = {name: f"Secret-{name}-x9" for name in ("POSTGRES_PASSWORD", "REPLICATION_PASSWORD", "CHECK_PASSWORD",
                                                      "PCP_PASSWORD") if name in env}
    if "DB_USERS" in env:
        secrets["DB_USERS"] = "app:Secret-DB_USERS-x9"
    result = invoke(["config", "check", "--role", role], {**env, **secrets})
    assert result.exit_code == 0, result.output
    assert "Secret-" not in result.output and "(set)" in result.output
