"""Prometheus text exposition (format 0.0.4): HELP and TYPE for every declared metric, then its samples."""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value):
    return str(value).replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value) if isinstance(value, int) else repr(float(value))


def render(declared, samples):
    """declared: [(name, type, help)]; samples: [(name, {label: value}, number)], absent ones left out."""
    by_name = {}
    for name, labels, value in samples:
        if value is not None:
            by_name.setdefault(name, []).append((labels, value))
    lines = []
    for name, kind, doc in declared:
        lines += [f"# HELP {name} {doc}", f"# TYPE {name} {kind}"]
        for labels, value in by_name.get(name, []):
            shown = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{shown}}} {_number(value)}" if shown else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"
