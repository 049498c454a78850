"""Subprocesses: argv lists, a timeout, and clear errors with redacted output."""
import logging
import re
import shlex
import subprocess
import threading

from .errors import CommandError

logger = logging.getLogger(__name__)

_PASSWORD_IN_TEXT = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text, secrets=()):
    """Text with passwords replaced by ***: conninfo password=... and every known secret."""
    text = _PASSWORD_IN_TEXT.sub(r"\1***", text or "")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def command(argv, secrets=()):
    """argv as one redacted line, for error messages: which program, subcommand and options failed."""
    return redact(shlex.join(str(a) for a in argv), secrets)


def run(argv, timeout=60, env=None, input=None, check=True, secrets=(), cwd=None):
    """Run argv; return the CompletedProcess (text output), or raise CommandError when it fails.

    input may be str or bytes (then fed as is); output is decoded, undecodable bytes replaced.
    """
    try:
        result = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, cwd=cwd,
                                input=input.encode() if isinstance(input, str) else input)
    except subprocess.TimeoutExpired:
        raise CommandError(f"{command(argv, secrets)} did not finish within {timeout} s.") from None
    except FileNotFoundError:
        raise CommandError(f"{argv[0]} is not installed.") from None
    result.stdout = result.stdout.decode(errors="replace")
    result.stderr = result.stderr.decode(errors="replace")
    if check and result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-6:]
        raise CommandError(f"{command(argv, secrets)} exited with {result.returncode}: "
                           + redact(" | ".join(output), secrets))
    return result


def forward_output(process, label, skip=None):
    """Log each line a child prints, prefixed with its label, from a daemon thread.

    skip: a compiled pattern of lines that are routine noise for an operator.
    """
    child_logger = logging.getLogger(f"pgcluster.{label}")

    def pump():
        for line in process.stdout:
            if skip is None or not skip.search(line):
                child_logger.info("%s: %s", label, line.rstrip())

    threading.Thread(target=pump, name=label, daemon=True).start()


def stop_child(process, grace):
    """SIGTERM to a child started with Popen, then SIGKILL after `grace` seconds; None does nothing."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
