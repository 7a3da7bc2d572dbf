"""Build the C load generators and run their parser self-test (framing fed
prefix by prefix, FETCH items, literals, POP3 dot-unstuffing)."""
import json
import shutil
import subprocess

import pytest

import _path  # noqa: F401

from benchlib import scenarios

LOADGEN = _path.BENCH + "/loadgen"


@pytest.fixture(scope="module")
def bindir(tmp_path_factory):
    if not shutil.which("cc") or not shutil.which("make"):
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("lg")
    r = subprocess.run(["make", "-s", "-C", LOADGEN, "OUT=%s" % d], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def test_selftest(bindir):
    r = subprocess.run([str(bindir / "imapload"), "--self-test"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "selftest: ok" in r.stdout


def test_usage_errors(bindir):
    for prog in ("imapload", "pop3load"):
        r = subprocess.run([str(bindir / prog)], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and "usage" in r.stderr


def test_loadgen_json_and_check():
    out = 'noise\n{"ok":true,"errors":0,"commands_per_s":12.5,"cmds":{}}\n'
    res = scenarios.loadgen_json(out)
    assert res["commands_per_s"] == 12.5
    scenarios.check_loadgen(res, 0, "")
    with pytest.raises(scenarios.VerifyError):
        scenarios.check_loadgen({"ok": False, "errors": 1, "first_error": "bad bytes"}, 1, "")
    with pytest.raises(scenarios.VerifyError):
        scenarios.loadgen_json("nothing here\n")
