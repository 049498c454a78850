"""WAL positions: PostgreSQL's 'X/Y' text and the integer byte position."""


def parse_lsn(text):
    """'0/3000148' -> integer position; '' or None -> 0."""
    if not text or "/" not in text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"
