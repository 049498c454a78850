"""Certificates for the unit tests, made once per test process by scripts/make-secrets (openssl on the host).

TLS_ENV names a CA and one certificate for every unit test's environment (its names: the hosts of those
environments); issue() makes more, from this CA or another, expired or not.
"""
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIR = Path(tempfile.mkdtemp(prefix="pgcluster-unit-tls-"))


def make_secrets(directory, services, names="", days=825, renew=False):
    env = dict(os.environ, TLS_SERVICES=services, TLS_EXTRA_NAMES=names, TLS_DAYS=str(days))
    subprocess.run([str(ROOT / "scripts" / "make-secrets"), *(["--renew"] if renew else []), str(directory)],
                   env=env, check=True, capture_output=True)
    return Path(directory) / "tls"


TLS = make_secrets(DIR / "cluster", "unit", names="pgmaster,pgslave1,pgslave4,node1,node2")
TLS_ENV = {"TLS_CA_FILE": str(TLS / "ca.crt"), "TLS_CERT_FILE": str(TLS / "unit.crt"),
           "TLS_KEY_FILE": str(TLS / "unit.key")}


def issue(service, days=825, other_ca=False):
    """(cert, key) paths of a new certificate for service, by the cluster's CA or another one."""
    directory = DIR / ("other" if other_ca else "cluster")
    tls = make_secrets(directory, service, days=days, renew=True)
    return str(tls / f"{service}.crt"), str(tls / f"{service}.key")
