"""TLS files: the checks at start (one line naming the variable), the watch that reloads a replacement, expiry."""
import time

import pytest

from pgcluster import tls
from pgcluster.cluster import overview

from .certs import TLS, TLS_ENV, issue
from .goldens import BARMAN_ENV, NODE_ENV, PGPOOL_ENV
from .helpers import loader

load, problems = loader("node", NODE_ENV)


@pytest.mark.parametrize("role, env", [("node", NODE_ENV), ("pgpool", PGPOOL_ENV), ("barman", BARMAN_ENV)])
def test_tls_is_on_and_required_by_default(role, env):
    cfg = loader(role, env)[0]()
    assert cfg.tls.enabled and cfg.tls.required
    assert cfg.tls.libpq() == {"sslmode": "verify-full", "sslrootcert": tls.CA}


def test_a_missing_file_is_one_line_naming_its_variable(tmp_path):
    found = problems(TLS_KEY_FILE=str(tmp_path / "absent.key"))
    assert found == [f"TLS_KEY_FILE={tmp_path / 'absent.key'} cannot be read: expected a readable PEM file "
                     "(run scripts/make-secrets, or give your own as TLS_CA_FILE, TLS_CERT_FILE and "
                     "TLS_KEY_FILE)."]


def test_the_defaults_name_docker_secrets_and_their_absence_stops_the_start():
    found = problems(TLS_CA_FILE=None, TLS_CERT_FILE=None, TLS_KEY_FILE=None)
    assert [p.split(" ")[0] for p in found] == [
        "TLS_CA_FILE=/run/secrets/tls_ca.crt", "TLS_CERT_FILE=/run/secrets/tls.crt",
        "TLS_KEY_FILE=/run/secrets/tls.key"]


def test_without_tls_required_and_without_files_tls_is_off(tmp_path):
    cfg = load(TLS_REQUIRED="0", TLS_CA_FILE=None, TLS_CERT_FILE=None, TLS_KEY_FILE=None)
    assert cfg.tls == tls.OFF and cfg.tls.libpq() == {"sslmode": "prefer"}
    assert "hostssl" not in open_rendered(cfg)


def test_without_tls_required_files_that_exist_are_offered_but_not_demanded():
    cfg = load(TLS_REQUIRED="0")
    assert cfg.tls.enabled and not cfg.tls.required and cfg.tls.libpq() == {"sslmode": "prefer"}
    assert "hostssl" not in open_rendered(cfg) and "ssl = on" in open_rendered(cfg, "postgresql.conf")


def open_rendered(cfg, name="pg_hba.conf"):
    from pgcluster.node import files
    return next(content for path, (content, _) in files.render_all(cfg).items() if path.endswith(name))


def test_some_files_without_the_others_are_refused_even_when_not_required(tmp_path):
    found = problems(TLS_REQUIRED="0", TLS_CERT_FILE=str(tmp_path / "none.crt"))
    assert len(found) == 1 and found[0].startswith("TLS_CERT_FILE=") and "give all three files or none" in found[0]


@pytest.mark.parametrize("make, reason", [
    (lambda: {"TLS_KEY_FILE": issue("stranger")[1]}, "it does not match TLS_KEY_FILE"),
    (lambda: dict(zip(("TLS_CERT_FILE", "TLS_KEY_FILE"), issue("pgslave1", other_ca=True), strict=True)),
     "it is not signed by TLS_CA_FILE"),
    (lambda: dict(zip(("TLS_CERT_FILE", "TLS_KEY_FILE"), issue("pgslave9"), strict=True)),
     "it does not name pgslave1"),
    (lambda: dict(zip(("TLS_CERT_FILE", "TLS_KEY_FILE"), issue("pgslave1", days=-1), strict=True)),
     "certificate has expired"),
    (lambda: {"TLS_CERT_FILE": str(TLS / "ca.key")}, "the files are not a PEM certificate, key and CA"),
])
def test_a_certificate_that_cannot_serve_is_one_line_with_the_reason(make, reason):
    found = problems(**make())
    assert len(found) == 1 and found[0].startswith("TLS_CERT_FILE=") and f"cannot be used: {reason}" in found[0], found
    assert "expected a certificate for pgslave1 signed by TLS_CA_FILE=" in found[0]


@pytest.mark.parametrize("changes, expected", [
    ({"TLS_REQUIRED": "maybe"}, "TLS_REQUIRED='maybe' is not valid: expected"),
    ({"TLS_MODE": "verify-full"}, "TLS_MODE is not a known variable: expected one of TLS_CA_FILE, TLS_CERT_FILE, "
                                  "TLS_KEY_FILE, TLS_REQUIRED."),
])
def test_an_unknown_tls_value_or_variable_is_refused(changes, expected):
    found = problems(**changes)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The install directory in tmp_path, and a certificate of the cluster's CA the test may replace."""
    for name, value in (("DIR", tmp_path / "tls"), ("CA", tmp_path / "tls/ca.crt"), ("CERT", tmp_path / "tls/tls.crt"),
                        ("KEY", tmp_path / "tls/tls.key"), ("POLICY", tmp_path / "tls/policy")):
        monkeypatch.setattr(tls, name, str(value))
    cert, key = tmp_path / "given.crt", tmp_path / "given.key"
    for target, source in zip((cert, key), issue("pgslave1"), strict=True):
        target.write_bytes(open(source, "rb").read())
    files, found = tls.check(True, TLS_ENV["TLS_CA_FILE"], str(cert), str(key), "pgslave1")
    assert not found
    return files, cert, key


def test_install_copies_the_key_where_only_this_user_reads_it(installed, tmp_path):
    files, _, _ = installed
    tls.install(files)
    assert (tmp_path / "tls/tls.key").stat().st_mode & 0o777 == 0o600
    assert tls.installed() == tls.Tls(True, tls.CA, tls.CERT, tls.KEY, enabled=True)


def replace(target, source):
    target.write_bytes(open(source, "rb").read())


def test_a_good_replacement_is_installed_and_reported_once(installed, monkeypatch):
    files, cert, key = installed
    watch = tls.Watch(files, name="pgslave1")
    monkeypatch.setattr(watch, "next", 0)
    assert not watch.changed()
    new_cert, new_key = issue("pgslave1", days=400)
    replace(cert, new_cert)
    replace(key, new_key)
    watch.next = 0
    assert watch.changed()
    assert open(tls.CERT, "rb").read() == open(new_cert, "rb").read()
    watch.next = 0
    assert not watch.changed()


def test_a_bad_replacement_is_refused_and_the_files_in_use_stay(installed, caplog):
    files, cert, key = installed
    watch = tls.Watch(files, name="pgslave1", who="node2")
    before = open(tls.CERT, "rb").read()
    stranger = issue("pgslave1", other_ca=True)
    replace(cert, stranger[0])
    replace(key, stranger[1])
    watch.next = 0
    assert not watch.changed()
    assert open(tls.CERT, "rb").read() == before
    assert ("node2 keeps its TLS certificate in use and refuses the replacement: TLS_CERT_FILE="
            in caplog.text) and "it is not signed by TLS_CA_FILE" in caplog.text
    watch.next = 0
    assert not watch.changed() and caplog.text.count("refuses the replacement") == 1


def test_the_watch_looks_only_every_few_seconds(installed):
    files, cert, key = installed
    watch = tls.Watch(files, name="pgslave1")
    replace(cert, issue("pgslave1", days=300)[0])
    assert not watch.changed()  # within EVERY of the start


def test_not_after_reads_an_expired_certificate_too(installed):
    expired, _ = issue("pgslave1", days=-1)
    assert tls.not_after(expired) < time.time()


@pytest.mark.parametrize("days, expected", [
    (90, None),
    (12.5, "its TLS certificate expires on 2026-01-13, in 12 days: replace TLS_CERT_FILE"),
    (-2, "its TLS certificate expired on 2025-12-30"),
])
def test_expiry_warning(days, expected):
    now = 1767225600.0  # 2026-01-01
    assert tls.expiry_warning(now + days * 86400, now) == expected


def test_status_names_each_container_whose_certificate_expires_soon():
    now = 1767225600.0
    found = {"nodes": [{"host": "pgmaster", "reachable": True, "tls_expires": now + 200 * 86400},
                       {"host": "pgslave1", "reachable": True, "tls_expires": now + 5 * 86400}],
             "routers": {"pgpool": {"tls_expires": now + 100 * 86400}, "pgpool2": None},
             "backup": {"tls_expires": now - 86400}}
    assert overview.certificate_lines(found, now) == [
        "Certificates", "  backup: its TLS certificate expired on 2025-12-31",
        "  pgslave1: its TLS certificate expires on 2026-01-06, in 5 days: replace TLS_CERT_FILE"]
    for row in found["nodes"]:
        row["tls_expires"] = now + 300 * 86400
    found["backup"] = None
    assert overview.certificate_lines(found, now) == [
        "Certificates", "  3 in use, none expires within 30 days (first: pgpool, on 2026-04-11)"]


def test_status_says_when_tls_is_off():
    found = {"nodes": [{"host": "pgmaster", "reachable": True, "tls_expires": 0.0}], "routers": {}, "backup": None}
    assert overview.certificate_lines(found) == ["Certificates", "  TLS is off"]


def test_the_metric_is_the_expiry_of_the_certificate_in_use(installed):
    files, _, _ = installed
    tls.install(files)
    tls.use(files)
    expires = tls.not_after()
    assert f'\n{tls.METRIC}{{name="node2"}} {expires}\n' in tls.metrics("node2") and expires > time.time() + 800 * 86400
    tls.use(tls.OFF)
    assert f"\n{tls.METRIC}{{" not in tls.metrics("node2")
