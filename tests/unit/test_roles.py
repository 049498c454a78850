"""Which users a primary makes, from the node's configuration."""
from pgcluster.node import roles

from .goldens import NODE_ENV
from .helpers import loader

load, _ = loader("node", NODE_ENV)


def test_a_user_is_made_only_when_its_password_is_given():
    assert roles.wanted(load()) == []
    made = roles.wanted(load(CHECK_PASSWORD="c", BARMAN_PASSWORD="b", APP_USER="shop", APP_PASSWORD="a"))
    assert [(user, attributes) for user, _, attributes, _ in made] == [
        ("pgpool_check", "LOGIN NOREPLICATION"), ("barman", "LOGIN REPLICATION"), ("shop", "LOGIN NOREPLICATION")]


def test_the_check_user_gets_monitoring_only_and_read_only_sessions():
    (_, _, _, grants), = roles.wanted(load(CHECK_PASSWORD="c"))
    assert grants == ("GRANT pg_monitor TO {user}", "ALTER ROLE {user} SET default_transaction_read_only = on")
