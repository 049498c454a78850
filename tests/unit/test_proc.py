import sys

import pytest

from pgcluster import proc, scram
from pgcluster.errors import CommandError


@pytest.mark.parametrize("text, secrets, expected", [
    ("host=a password=s3cret user=b", (), "host=a password=*** user=b"),
    ("password = 'it\\'s secret' dbname=x", (), "password = *** dbname=x"),
    ("PASSWORD=x", (), "PASSWORD=***"),
    ("failed for hunter2 at pgmaster", ("hunter2", ""), "failed for *** at pgmaster"),
    (None, (), ""),
])
def test_redact(text, secrets, expected):
    assert proc.redact(text, secrets) == expected


def test_a_failed_command_is_named_whole_and_redacted():
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('no good: hunter2\\n'); sys.exit(3)",
            "standby", "clone", "--password=hunter2"]
    with pytest.raises(CommandError) as raised:
        proc.run(argv, secrets=("hunter2",))
    message = str(raised.value)
    assert "standby clone" in message and "exited with 3: no good: ***" in message and "hunter2" not in message


def test_a_command_past_its_deadline_is_named():
    with pytest.raises(CommandError, match="did not finish within 0.2 s"):
        proc.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)


def test_bytes_in_text_out():
    result = proc.run([sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.buffer.read().decode())"],
                      input=b"caf\xc3\xa9")
    assert result.stdout == "café"


def test_scram_verifier_matches_postgresqls_form():
    # RFC 7677's example: user "user", password "pencil", this salt and 4096 iterations.
    salt = bytes.fromhex("9b6b2a7a63e0beba0c4ecea17bb9d7e7")
    verifier = scram.verifier("pencil", salt=salt)
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    assert method == "SCRAM-SHA-256" and iterations_salt.startswith("4096:") and len(keys.split(":")) == 2
    assert scram.verifier("pencil", salt=salt) == verifier
    assert scram.verifier("pencil") != verifier  # a fresh salt each time
