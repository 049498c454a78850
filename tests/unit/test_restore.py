import json
from types import SimpleNamespace

from pgcluster.node.restore import PLAN, applied_marker, pending

PLAN_TEXT = {"id": "20261122T101500Z", "primary": "pgmaster", "hosts": ["pgmaster", "pgslave1"],
             "data": "20261122T101500Z/data", "target": "the latest state"}


def write_plan(directory):
    (directory / PLAN).write_text(json.dumps(PLAN_TEXT))
    (directory / PLAN_TEXT["id"]).mkdir()


def test_a_node_of_the_plan_applies_it_once(tmp_path):
    write_plan(tmp_path)
    node = SimpleNamespace(host="pgslave1")
    assert pending(node, tmp_path) == PLAN_TEXT
    open(applied_marker(PLAN_TEXT, "pgslave1", tmp_path), "w").close()
    assert pending(node, tmp_path) is None


def test_a_node_outside_the_plan_ignores_it(tmp_path):
    write_plan(tmp_path)
    assert pending(SimpleNamespace(host="inspect1"), tmp_path) is None


def test_no_plan_means_nothing_pending(tmp_path):
    assert pending(SimpleNamespace(host="pgmaster"), tmp_path) is None
