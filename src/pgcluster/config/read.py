"""Reading a role's variables from the environment: values and problems, every problem at once."""
from .. import parsers as p
from .. import tls as tls_files
from ..errors import ConfigError
from .spec import DERIVED, REQUIRED, SPEC, variables


def _raw(var, env):
    """The raw string for var (from NAME or NAME_FILE), or None when unset."""
    value = env.get(var.name)
    if var.secret:
        path = env.get(var.name + "_FILE")
        if path and value:
            raise ValueError(f"set {var.name} or {var.name}_FILE, not both")
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    value = handle.read().rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{var.name}_FILE={path} cannot be read: {exc.strerror}") from None
    return value if value not in (None, "") else None


def read(role, env):
    """({name: value} of every variable that parsed, [problem sentences]); never raises for bad input.

    A derived variable that is absent has the value None.
    """
    values, problems = {}, []
    for var in variables(role):
        try:
            raw = _raw(var, env)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if raw is None:
            if var.default is REQUIRED:
                also = f" (or {var.name}_FILE)" if var.secret else ""
                problems.append(f"{var.name} is required: set it{also}. {var.doc}")
                continue
            if var.default is DERIVED:
                values[var.name] = None
                continue
            raw = var.default
        try:
            values[var.name] = var.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if var.secret else repr(raw)
            problems.append(f"{var.name}={shown} is not valid: expected {exc}.")
    known = {var.name for var in SPEC}
    for name in sorted(n for n in env if n.startswith("TLS_") and n not in known):
        expected = ", ".join(sorted(n for n in known if n.startswith("TLS_")))
        problems.append(f"{name} is not a known variable: expected one of {expected}.")
    return values, problems


def tls(values, problems, name=None):
    """The TLS files checked (name: the host name a node's certificate must carry); a problem for each fault."""
    keys = ("TLS_REQUIRED", "TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE")
    if not all(key in values for key in keys):
        return tls_files.OFF
    found, faults = tls_files.check(*(values[key] for key in keys), name=name)
    problems += faults
    return found


def settings(values, problems, name="CONFIGS"):
    """CONFIGS (or another variable of its form) as an ordered dict, split by the CONFIGS_* symbols; a malformed
    value adds a problem."""
    if name not in values:
        return {}
    try:
        return p.settings(values[name], values.get("CONFIGS_DELIMITER_SYMBOL", ","),
                          values.get("CONFIGS_ASSIGNMENT_SYMBOL", ":"))
    except ValueError as exc:
        problems.append(f"{name}={values[name]!r} is not valid: expected {exc}.")
        return {}


def build(cls, role, values, problems, **derived):
    """The role's frozen configuration from the parsed values and the derived fields, or ConfigError
    listing every problem."""
    if problems:
        raise ConfigError(problems)
    fields = {var.field: values[var.name] for var in variables(role) if var.field}
    fields.update(derived)
    return cls(**fields)
