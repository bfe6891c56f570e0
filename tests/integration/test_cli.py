"""The rampart command line: version, --help, validate, serve, proxy."""
import json
import re
import subprocess

import pytest

import helpers
from helpers import rampart_bin


def run(args, timeout=10):
    return subprocess.run([rampart_bin()] + args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_version_prints_a_version():
    result = run(["version"])
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+\.\d+\.\d+", result.stdout + result.stderr), result


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["validate", "--help"],
                                  ["proxy", "--help"], ["version", "--help"]])
def test_help_exits_zero(args):
    result = run(args)
    assert result.returncode == 0, result.stderr
    assert "-" in result.stdout + result.stderr and len(result.stdout + result.stderr) > 20


def test_validate_accepts_a_good_file(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(helpers.simple_config(helpers.free_port(), "127.0.0.1:9"))
    result = run(["validate", "-c", str(path)])
    assert result.returncode == 0, result.stderr


BAD_CONFIG = """\
workers: 1
bogus_key: 7
listeners:
  - name: main
    address: 127.0.0.1:{port}
clusters:
  - name: app
    endpoints: [127.0.0.1:9]
virtual_hosts:
  - name: default
    domains: ["*"]
    routes:
      - name: r1
        match: {{prefix: /}}
        cluster: nowhere
"""


def test_validate_reports_every_error_with_file_line_col(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIG.format(port=helpers.free_port()))
    result = run(["validate", "-c", str(path)])
    assert result.returncode == 1, (result.returncode, result.stderr)
    diagnostics = {}
    for line in result.stderr.splitlines():
        match = re.match(re.escape(str(path)) + r":(\d+):(\d+): (.+)$", line)
        if match:
            assert int(match.group(2)) >= 1, line
            diagnostics.setdefault(int(match.group(1)), []).append(match.group(3))
    assert 2 in diagnostics, f"no error at line 2 (unknown key): {result.stderr}"
    assert any("bogus_key" in m for m in diagnostics[2]), diagnostics
    assert 15 in diagnostics, f"no error at line 15 (undefined cluster): {result.stderr}"
    assert any("nowhere" in m for m in diagnostics[15]), diagnostics


def test_serve_refuses_a_bad_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIG.format(port=helpers.free_port()))
    result = run(["serve", "-c", str(path)])
    assert result.returncode == 1, result
    assert str(path) + ":2:" in result.stderr


def test_serve_is_the_default_subcommand(stack):
    upstream = stack.upstream()
    port = helpers.free_port()
    path = stack.write("default.yaml", helpers.simple_config(port, upstream.address))
    stack.rampart_args(["-c", str(path)], port)
    response = helpers.get(port, "/hello")
    assert response.status == 200
    assert response.json()["target"] == "/hello"


def test_proxy_subcommand_proxies(stack):
    upstream = stack.upstream("quick")
    port = helpers.free_port()
    stack.rampart_args(["proxy", "--listen", f"127.0.0.1:{port}", "--to", upstream.address,
                        "--workers", "1"], port)
    response = helpers.get(port, "/via/proxy?x=1")
    assert response.status == 200
    assert response.header("x-upstream-name") == "quick"
    assert response.json()["target"] == "/via/proxy?x=1"


def test_log_format_json_writes_one_json_object_per_line(stack):
    upstream = stack.upstream("quick")
    port = helpers.free_port()
    rampart = stack.rampart_args(["proxy", "--listen", f"127.0.0.1:{port}", "--to", upstream.address,
                                  "--workers", "1", "--log-format", "json"], port)
    assert helpers.get(port, "/x").status == 200
    assert rampart.stop() == 0
    lines = [line for line in rampart.stderr().splitlines() if line.strip()]
    assert len(lines) >= 2, lines
    records = [json.loads(line) for line in lines]
    for record in records:
        assert {"time", "level", "msg"} <= set(record), record
    assert any("listening on" in r["msg"] for r in records), records
    assert any(r["msg"].startswith("stopped:") and "requests=1" in r["msg"] for r in records), records
