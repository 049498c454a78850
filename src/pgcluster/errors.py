"""The small exception tree: everything pgcluster raises on purpose."""


class PgclusterError(Exception):
    """Base class; the message is a sentence an operator can act on."""


class ConfigError(PgclusterError):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CommandError(PgclusterError):
    """A subprocess failed; the message carries its redacted stderr."""


class FatalError(PgclusterError):
    """The container cannot go on; the supervisor exits non-zero."""


class Redecide(Exception):
    """A duty's one way to change the node's role: stop PostgreSQL and decide the role again.

    urgent: stop with an immediate shutdown (a primary that must stop writing now).
    decision: carry out this Decision instead of deciding afresh (a fence, a rewind); the duty
    that raises it has logged why.
    """

    def __init__(self, reason, urgent=False, decision=None):
        super().__init__(reason)
        self.urgent = urgent
        self.decision = decision
