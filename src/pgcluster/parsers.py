"""Pure parsers for environment values.

Each parser takes the raw string and returns the value, or raises ValueError
whose message is the expected form ("an integer from 0 to 1000"); config.py
turns that into one line naming the variable.
"""
import re
from typing import NamedTuple

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def boolean(raw):
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError("1/0, true/false, yes/no or on/off")


def integer(low=None, high=None):
    """A parser for a whole number within [low, high]."""
    if low is not None and high is not None:
        form = f"an integer from {low} to {high}"
    elif low is not None:
        form = f"an integer of at least {low}"
    else:
        form = "an integer"

    def parse(raw):
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(form) from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(form)
        return value

    parse.form = form
    return parse


def seconds(raw):
    """A duration in seconds, fractions allowed (0.5)."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("a number of seconds, such as 3 or 0.5") from None
    if value <= 0:
        raise ValueError("a number of seconds greater than 0")
    return value


def choice(*options):
    form = "one of " + ", ".join(options)

    def parse(raw):
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(form)
        return value

    return parse


def node_name(raw):
    value = raw.strip()
    if not _NAME.match(value) or len(value) > 63:
        raise ValueError("a name of letters, digits, '_', '.' or '-' (at most 63 characters)")
    return value


def host(raw):
    value = raw.strip()
    if not _HOST.match(value) or len(value) > 253:
        raise ValueError("a host name or IP address, such as pgmaster")
    return value


def optional_host(raw):
    return host(raw) if raw.strip() else ""


def optional_address(default_port):
    """host or host:port (the port defaults to default_port); () when empty."""
    def parse(raw):
        value = raw.strip()
        if not value:
            return ()
        name, _, port = value.partition(":")
        try:
            return (host(name), integer(1, 65535)(port) if port else default_port)
        except ValueError:
            raise ValueError(f"a host name with an optional port, such as backup or backup:{default_port}") from None
    return parse


def host_list(raw):
    """Comma-separated host names; blanks and duplicates are ignored."""
    hosts = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        if not _HOST.match(item):
            raise ValueError("a comma-separated list of host names, such as pgmaster,pgslave1,pgslave3")
        if item not in hosts:
            hosts.append(item)
    return tuple(hosts)


def networks(raw):
    """ALLOWED_NETWORKS: samenet, samehost or networks in CIDR form, comma-separated, as a tuple."""
    import ipaddress

    result = tuple(n.strip() for n in raw.split(",") if n.strip())
    for network in result:
        if network in ("samenet", "samehost"):
            continue
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            network = ""
        if "/" not in network:
            raise ValueError("samenet or comma-separated networks in CIDR form, such as 10.0.0.0/8")
    return result


def identifier(raw):
    value = raw.strip()
    if not _IDENT.match(value) or len(value) > 63:
        raise ValueError("a PostgreSQL identifier: a letter or '_' then letters, digits or '_'")
    return value


def optional_identifier(raw):
    """A PostgreSQL identifier, or empty for none."""
    return identifier(raw) if raw.strip() else ""


def key_values(text, separator, lower=False):
    """Lines of 'key<separator>value' (pg_controldata, pcp_node_info, backup.info) as a dict, both stripped."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(separator)
        if sep:
            fields[key.strip().lower() if lower else key.strip()] = value.strip()
    return fields


def identifier_list(raw):
    """Comma-separated PostgreSQL identifiers, as a tuple; blanks and duplicates are ignored."""
    names = []
    for item in raw.split(","):
        item = item.strip()
        if item and item not in names:
            if not _IDENT.match(item):
                raise ValueError("comma-separated names of letters, digits and '_', such as app,reporting")
            names.append(item)
    return tuple(names)


def text(raw):
    return raw


def trailing_number(name):
    """The number a name ends with ("node3" -> 3), or None."""
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else None


def settings(raw, delimiter=",", assignment=":"):
    """Parse 'name:value,name2:value2' (CONFIGS) into an ordered dict.

    Only the first assignment symbol splits, so values may contain it.
    """
    result = {}
    if not raw.strip():
        return result
    for item in raw.split(delimiter):
        if not item.strip():
            continue
        name, sep, value = item.partition(assignment)
        name = name.strip()
        if not sep or not name or not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", name):
            raise ValueError(
                f"name{assignment}value pairs separated by '{delimiter}', such as "
                f"max_connections{assignment}200{delimiter}shared_buffers{assignment}256MB "
                f"(got {item.strip()!r})"
            )
        result[name.lower()] = value.strip()
    return result


def consistency(raw):
    """eventual, partially_strict or strict ('partially strict' and 'partially-strict' too)."""
    value = re.sub(r"[\s-]+", "_", raw.strip().lower())
    if value not in ("eventual", "partially_strict", "strict"):
        raise ValueError("one of eventual, partially_strict, strict")
    return value


class Backend(NamedTuple):
    """One BACKENDS entry."""
    num: int
    host: str
    port: int
    weight: float
    data_dir: str
    flag: str


BACKEND_FLAGS = ("ALLOW_TO_FAILOVER", "DISALLOW_TO_FAILOVER", "ALWAYS_PRIMARY")
BACKENDS_FORM = ("comma-separated num:host:port:weight:data_dir:flag entries, empty fields taking 5432, 1, "
                 "/var/lib/postgresql/data and ALLOW_TO_FAILOVER, such as "
                 "0:pgmaster:5432:1:/var/lib/postgresql/data:ALLOW_TO_FAILOVER,1:pgslave1::::")


def backends(raw):
    """PostDock's BACKENDS: a tuple of Backend, ordered by num; nums unique."""
    result = []
    for item in raw.split(","):
        if not item.strip():
            continue
        parts = [p.strip() for p in item.split(":")]
        if len(parts) < 2 or len(parts) > 6:
            raise ValueError(f"{BACKENDS_FORM} (got {item.strip()!r})")
        parts += [""] * (6 - len(parts))
        num, host_, port, weight, data_dir, flag = parts
        try:
            num = int(num)
            port = int(port or 5432)
            weight = float(weight or 1)
        except ValueError:
            raise ValueError(f"{BACKENDS_FORM} (got {item.strip()!r})") from None
        flag = (flag or "ALLOW_TO_FAILOVER").upper()
        if num < 0 or not _HOST.match(host_) or not 0 < port < 65536 or weight < 0 or flag not in BACKEND_FLAGS:
            raise ValueError(f"{BACKENDS_FORM} (got {item.strip()!r})")
        result.append(Backend(num, host_, port, weight, data_dir or "/var/lib/postgresql/data", flag))
    if not result:
        raise ValueError(BACKENDS_FORM)
    nums = [b.num for b in result]
    if len(set(nums)) != len(nums):
        raise ValueError(f"{BACKENDS_FORM}, each num used once (got {sorted(nums)})")
    return tuple(sorted(result))


def credentials(raw):
    """user:password pairs separated by commas (DB_USERS); passwords may hold ':'."""
    pairs = []
    for item in raw.split(","):
        if not item.strip():
            continue
        user, sep, password = item.strip().partition(":")
        if not sep or not password or not _IDENT.match(user):
            raise ValueError("comma-separated user:password pairs, such as app:secret,reporting:secret2")
        pairs.append((user, password))
    if not pairs:
        raise ValueError("comma-separated user:password pairs, such as app:secret")
    return tuple(pairs)


def cron(raw):
    """A five-field cron expression (minute hour day month weekday)."""
    from croniter import croniter  # only the backup image needs it

    value = " ".join(raw.split())
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError("a cron expression of five fields (minute hour day-of-month month day-of-week), "
                         "such as '0 3 * * *' for 03:00 every day")
    return value


def optional_cron(raw):
    """A cron expression, or empty for none."""
    return cron(raw) if raw.strip() else ""
