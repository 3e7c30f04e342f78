import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeshare.bench.transports.quoting import sh_command, sh_join, sh_quote
from edgeshare.errors import InvalidInputError
from tests.bench.conftest import HOSTILE_STEM


def _argv_seen_by_sh(command: str) -> list[str]:
    """Run `command` after `printf '%s\\0'` in a real /bin/sh and return the arguments it received."""
    out = subprocess.run(["/bin/sh", "-c", "printf '%s\\0' " + command], capture_output=True, check=True).stdout
    return out.decode().split("\0")[:-1]


@pytest.mark.parametrize("arg", [
    HOSTILE_STEM, "a b", "it's", '"', "$(id)", "`id`", ";", "&&", "|", "*", "~", "-rf", "\\", "new\nline",
    "", " ", "$HOME", "${IFS}", "'", "''", "é ü 漢",
])
def test_sh_quote_round_trips_through_a_real_shell(arg):
    assert _argv_seen_by_sh(sh_quote(arg)) == [arg]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))), min_size=1,
                max_size=4))
def test_sh_join_round_trips_any_argv(argv):
    assert _argv_seen_by_sh(sh_join(argv)) == argv


def test_safe_words_stay_unquoted():
    # The command lines recorded in results stay readable.
    assert sh_join(["/data/local/tmp/x/benchmark_model", "--graph=/a/b.tflite", "--num_threads=4"]) == \
        "/data/local/tmp/x/benchmark_model --graph=/a/b.tflite --num_threads=4"


def test_sh_command_quotes_cwd_env_and_argv():
    cmd = sh_command(["printf", "%s|", "a b"], cwd="/tmp", env={"X": "1 2"}, merge_stderr=True)
    assert cmd == "cd /tmp && X='1 2' printf '%s|' 'a b' 2>&1"
    assert subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True).stdout == "a b|"


def test_nul_byte_is_refused():
    with pytest.raises(InvalidInputError, match=r"cannot contain a NUL byte. Received: arg='a\\x00b'"):
        sh_quote("a\0b")


def test_bad_env_name_is_refused():
    with pytest.raises(InvalidInputError, match=r"not a valid environment variable name. Received: name='A;B'"):
        sh_command(["true"], env={"A;B": "1"})


def test_empty_argv_is_refused():
    with pytest.raises(InvalidInputError, match=r"empty command line. Received: argv=\[\]"):
        sh_join([])
