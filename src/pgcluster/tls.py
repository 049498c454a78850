"""TLS on every connection between containers: the files, their checks, and what clients and servers use.

TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE name the cluster's CA and this container's certificate and key
(scripts/make-secrets creates them). At start they are checked (readable, the key matches the certificate, the
CA signed it, it names this node), then copied where only this container's user reads them (PostgreSQL refuses
a key that others can read). While the container runs, a replaced file is checked the same way and, when good,
copied and reloaded; a bad replacement is logged and the files in use stay.

With TLS_REQUIRED=1 (the default) every client verifies its server's certificate and name (libpq
sslmode=verify-full, HTTPS with the CA) and PostgreSQL admits network clients over TLS only. With 0, TLS is
offered when the files exist and plain connections are admitted.
"""
import hashlib
import logging
import os
import shutil
import ssl
import time
from dataclasses import dataclass

from . import prometheus, proc
from .errors import PgclusterError
from .paths import CONF_DIR

logger = logging.getLogger(__name__)

DIR = f"{CONF_DIR}/tls"
CA = f"{DIR}/ca.crt"
CERT = f"{DIR}/tls.crt"
KEY = f"{DIR}/tls.key"
POLICY = f"{DIR}/policy"
EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class Tls:
    """The TLS settings of a container: required or not, the source files, and whether they are in use."""
    required: bool
    ca_file: str
    cert_file: str
    key_file: str
    enabled: bool

    @property
    def sources(self):
        return (("TLS_CA_FILE", self.ca_file), ("TLS_CERT_FILE", self.cert_file), ("TLS_KEY_FILE", self.key_file))

    def libpq(self):
        """The libpq parameters of a connection to another container."""
        if self.enabled and self.required:
            return {"sslmode": "verify-full", "sslrootcert": CA}
        return {"sslmode": "prefer"}


OFF = Tls(required=False, ca_file="", cert_file="", key_file="", enabled=False)


def _handshake(cert, key, ca, name):
    """The certificate a client with ca sees from a server with cert and key, the name checked when given: one
    TLS handshake in memory. ssl.SSLError (or OSError) says what is wrong."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = name is not None
    client.load_verify_locations(ca)
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    near = client.wrap_bio(pipes[0], pipes[1], server_hostname=name)
    far = server.wrap_bio(pipes[2], pipes[3], server_side=True)
    done = set()
    for _ in range(10):
        for side in (near, far):
            if side not in done:
                try:
                    side.do_handshake()
                    done.add(side)
                except ssl.SSLWantReadError:
                    pass
        pipes[2].write(pipes[1].read())
        pipes[0].write(pipes[3].read())
        if len(done) == 2:
            return near.getpeercert()
    raise ssl.SSLError("the handshake did not finish")


def _reason(exc, name):
    """What is wrong with the files, from the handshake's error."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        message = exc.verify_message or str(exc)
        if "issuer" in message or "self-signed" in message or "self signed" in message:
            return "it is not signed by TLS_CA_FILE"
        if "mismatch" in message.lower():
            return f"it does not name {name}"
        return message
    text = str(exc)
    if "KEY_VALUES_MISMATCH" in text or "key values mismatch" in text:
        return "it does not match TLS_KEY_FILE"
    if isinstance(exc, ssl.SSLError):
        return f"the files are not a PEM certificate, key and CA ({exc.reason or text})"
    return text


def check(required, ca_file, cert_file, key_file, name=None):
    """(Tls, [problem sentences]): the files checked as a server and its clients would, name (this node's host
    name) included when given. With TLS_REQUIRED=0 and no file present, TLS is off and that is no problem."""
    found = Tls(required, ca_file, cert_file, key_file, enabled=True)
    missing = [(var, path) for var, path in found.sources if not os.access(path, os.R_OK)]
    if not required and len(missing) == len(found.sources):
        return OFF, []
    if missing:
        hint = ("run scripts/make-secrets, or give your own as TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE"
                if required else "give all three files or none")
        return OFF, [f"{var}={path} cannot be read: expected a readable PEM file ({hint})."
                     for var, path in missing]
    try:
        _handshake(cert_file, key_file, ca_file, name)
    except (ssl.SSLError, OSError) as exc:
        return OFF, [f"TLS_CERT_FILE={cert_file} cannot be used: {_reason(exc, name)}; expected a certificate "
                     f"for {name or 'this container'} signed by TLS_CA_FILE={ca_file}, with its key in "
                     "TLS_KEY_FILE."]
    return found, []


_expiry = {}  # (path, mtime) -> seconds since the epoch


def not_after(path=None):
    """When the certificate at path (default: the one in use) expires (seconds since the epoch); None when there
    is none. openssl reads it: the standard library decodes only the certificates of a handshake, which fails
    once one has expired."""
    path = path or CERT
    try:
        key = (path, os.stat(path).st_mtime_ns)
        if key not in _expiry:
            out = proc.run(["openssl", "x509", "-noout", "-enddate", "-in", path], timeout=5).stdout
            _expiry.clear()
            _expiry[key] = ssl.cert_time_to_seconds(out.strip().split("=", 1)[1])
        return _expiry[key]
    except (OSError, PgclusterError, IndexError, ValueError):
        return None


def expiry_warning(expires, now=None):
    """A sentence when a certificate that expires at `expires` (epoch) does so within EXPIRY_WARNING_DAYS."""
    if not expires:
        return None
    days = (expires - (time.time() if now is None else now)) / 86400
    if days >= EXPIRY_WARNING_DAYS:
        return None
    when = time.strftime("%Y-%m-%d", time.gmtime(expires))
    return (f"its TLS certificate expired on {when}" if days < 0 else
            f"its TLS certificate expires on {when}, in {int(days)} days: replace TLS_CERT_FILE")


def expires():
    """When this container's certificate in use expires (epoch); None when TLS is off."""
    return not_after() if _current.enabled else None


METRIC = "pgcluster_tls_certificate_expiry_timestamp_seconds"


def metrics(name):
    """The Prometheus lines of this container's certificate (name: the node's or container's name)."""
    return prometheus.render([(METRIC, "gauge", "When this container's TLS certificate expires (Unix time).")],
                             [(METRIC, {"name": name}, expires())])


def _digest(tls):
    h = hashlib.sha256()
    for _, path in tls.sources:
        with open(path, "rb") as handle:
            h.update(handle.read())
    return h.hexdigest()


def install(tls):
    """Copy the files where this container's user alone reads the key; return their digest. POLICY records
    TLS_REQUIRED for the commands that run without the configuration (repmgrd's promotion check)."""
    os.makedirs(DIR, mode=0o700, exist_ok=True)
    for (_, source), target, mode in zip(tls.sources, (CA, CERT, KEY), (0o644, 0o644, 0o600), strict=True):
        tmp = f"{target}.new"
        shutil.copyfile(source, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    with open(POLICY, "w", encoding="utf-8") as handle:
        handle.write("required\n" if tls.required else "optional\n")
    return _digest(tls)


def installed():
    """The policy install() left in this container (OFF when it installed nothing)."""
    try:
        with open(POLICY, encoding="utf-8") as handle:
            required = handle.read().strip() == "required"
    except OSError:
        return OFF
    return Tls(required, CA, CERT, KEY, enabled=True)


class Watch:
    """Notices replaced TLS files: changed() (looking every EVERY seconds) installs a good replacement and says
    so; a bad one is logged once and the files in use stay."""
    EVERY = 5.0

    def __init__(self, tls, name=None, who="this container"):
        self.tls, self.name, self.who = tls, name, who
        self.digest = install(tls) if tls.enabled else None
        self.refused = None
        self.next = time.monotonic() + self.EVERY

    def changed(self):
        if not self.tls.enabled or time.monotonic() < self.next:
            return False
        self.next = time.monotonic() + self.EVERY
        try:
            digest = _digest(self.tls)
        except OSError:
            return False  # a file being replaced; the next look sees the new one
        if digest in (self.digest, self.refused):
            return False
        _, problems = check(True, self.tls.ca_file, self.tls.cert_file, self.tls.key_file, self.name)
        if problems:
            self.refused = digest
            logger.warning("%s keeps its TLS certificate in use and refuses the replacement: %s", self.who,
                           problems[0])
            return False
        self.digest = install(self.tls)
        logger.info("%s loads its replaced TLS certificate (expires %s).", self.who,
                    time.strftime("%Y-%m-%d", time.gmtime(not_after() or 0)))
        return True


# The process's policy, set once at start by use(): libpq connections, children and HTTPS read it.
_current = OFF
_server = None


def use(tls):
    """Make tls this process's policy: its libpq connections, its children's (client_env) and HTTPS."""
    global _current, _server
    _current, _server = tls, None


def current():
    return _current


def client_env():
    """The libpq variables of a child process (repmgr, pg_basebackup, pg_receivewal, Barman, PostgreSQL's WAL
    receiver) under this process's policy."""
    params = _current.libpq()
    return {"PGSSLMODE": params["sslmode"], **({"PGSSLROOTCERT": CA} if "sslrootcert" in params else {})}


def client_context():
    """The context of HTTPS requests to other containers; None when TLS is off (plain HTTP)."""
    if not _current.enabled:
        return None
    context = ssl.create_default_context(cafile=CA)
    context.check_hostname = _current.required
    return context


def server_context():
    """The context of this container's HTTPS endpoints, shared so that reload() reaches every server; None when
    TLS is off."""
    global _server
    if _current.enabled and _server is None:
        _server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        _server.load_cert_chain(CERT, KEY)
    return _server


def reload():
    """Load the installed certificate into the HTTPS endpoints; new connections get it."""
    if _server is not None:
        _server.load_cert_chain(CERT, KEY)
