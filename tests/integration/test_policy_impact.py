"""`rampart policy impact` through the real binary: the table and JSON
reports of a tightening change, exit codes 0/3/1, bad input reported as
file:line, request replay, and a 100,000-account x 1,000-route run."""
import json
import subprocess
import time

import helpers
import impact_fixtures

WRITES = ["POST", "PUT", "PATCH", "DELETE"]

OLD_POLICIES = [
    {"name": "orders", "rules": [{"name": "members", "effect": "allow", "roles": ["user", "admin"]}]},
    {"name": "status", "rules": [{"name": "anyone", "effect": "allow"}]},
]
NEW_POLICIES = [
    {"name": "orders", "rules": [
        {"name": "read", "effect": "allow", "methods": ["GET", "HEAD"], "roles": ["user", "admin"]},
        {"name": "write", "effect": "allow", "methods": WRITES, "roles": ["admin"]}]},
    {"name": "status", "rules": [{"name": "signed-in", "effect": "allow", "authenticated": True}]},
]

ACCOUNTS = [
    {"account": "acme", "principals": ["alice", "bob"], "roles": ["user"]},
    {"account": "globex", "principals": ["carol"], "roles": ["admin"]},
    {"account": "initech", "roles": ["user", "auditor"]},
    {"account": "umbrella", "principals": ["dave"], "scopes": ["reports:read"]},
    {"account": "hooli", "principals": ["erin"], "roles": ["user"], "claims": {"plan": ["gold", "x"]}},
]


def config_text(policies):
    routes = [
        {"name": "orders", "match": {"prefix": "/orders", "methods": ["GET", "POST", "DELETE"]},
         "cluster": "app", "policy": "orders"},
        {"name": "health", "match": {"exact": "/health"}, "cluster": "app", "public": True},
        {"name": "status", "match": {"exact": "/status"}, "cluster": "app", "policy": "status"},
        {"name": "files", "match": {"regex": "/files/[0-9]+"}, "cluster": "app", "policy": "orders"},
    ]
    return helpers.config(helpers.free_port(), [helpers.cluster("app", ["127.0.0.1:9"])],
                          [{"name": "api", "domains": ["*"], "routes": routes}], policies=policies)


def jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def impact(*args, timeout=120):
    return subprocess.run([helpers.rampart_bin(), "policy", "impact", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def fixture(tmp_path):
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    old.write_text(config_text(OLD_POLICIES))
    new.write_text(config_text(NEW_POLICIES))
    return old, new, jsonl(tmp_path / "accounts.jsonl", ACCOUNTS)


def test_table_report_of_a_tightening(tmp_path):
    old, new, accounts = fixture(tmp_path)
    result = impact("--from", old, "--to", new, "--accounts", accounts)
    assert result.returncode == 3, result
    out = result.stdout
    assert "5 accounts (5 principals) + (anonymous)" in out
    rows = [line.split(None, 6) for line in out.splitlines() if line.startswith(("orders ", "status "))]
    orders = {(r[2], r[3]): r for r in rows if r[0] == "orders"}
    assert set(orders) == {("POST", "lost"), ("DELETE", "lost")}
    for row in orders.values():
        assert row[4:6] == ["4", "3"]  # callers, accounts
        assert row[6] == "acme, initech, hooli"
    status = [r for r in rows if r[0] == "status"]
    assert len(status) == 7 and all(r[3] == "lost" and r[6] == "(anonymous)" for r in status)
    files = [line.split(None, 6) for line in out.splitlines() if line.startswith("files ")]
    assert files and files[0][1] == "regex" and "judge it with --requests" in files[0][6]
    assert "parameters" in out  # the header says what the sweep cannot judge
    assert "orders: 0 accounts gain access, 3 lose access" in out


def test_json_report_lists_exact_sets(tmp_path):
    old, new, accounts = fixture(tmp_path)
    result = impact("--from", old, "--to", new, "--accounts", accounts, "--format", "json")
    assert result.returncode == 3, result
    report = json.loads(result.stdout)
    assert report["changed"] is True
    assert report["summary"]["affected_accounts"] == 4
    routes = {r["route"]: r for r in report["routes"]}
    assert "health" not in routes  # unchanged routes are only counted
    assert report["summary"]["routes"]["unchanged"] == 1
    assert routes["files"]["status"] == "regex" and routes["files"]["swept"] is False
    orders = routes["orders"]
    assert (orders["gained_accounts"], orders["lost_accounts"]) == (0, 3)
    assert [m["method"] for m in orders["methods"]] == ["POST", "DELETE"]
    for method in orders["methods"]:
        assert method["gained"]["list"] == []
        assert method["lost"]["list"] == [
            {"account": "acme", "anonymous": False, "principals": ["alice", "bob"]},
            {"account": "initech", "anonymous": False, "principals": []},
            {"account": "hooli", "anonymous": False, "principals": ["erin"]}]
    status = routes["status"]
    assert [m["method"] for m in status["methods"]] == ["GET", "HEAD", "POST", "PUT", "PATCH",
                                                          "DELETE", "OPTIONS"]
    assert all(m["lost"]["list"] == [{"account": "(anonymous)", "anonymous": True, "principals": []}]
               for m in status["methods"])


def test_no_change_exits_0(tmp_path):
    old, _, accounts = fixture(tmp_path)
    result = impact("--from", old, "--to", old, "--accounts", accounts)
    assert result.returncode == 0, result
    assert "nothing changes" in result.stdout
    result = impact("--from", old, "--to", old, "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["changed"] is False


def test_bad_config_exits_1_with_its_errors(tmp_path):
    old, _, _ = fixture(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(config_text(OLD_POLICIES).replace("policy: orders", "policy: nosuch", 1))
    result = impact("--from", old, "--to", bad)
    assert result.returncode == 1, result
    assert f"{bad}:" in result.stderr and "undefined policy 'nosuch'" in result.stderr
    assert result.stdout == ""


def test_bad_accounts_and_requests_lines_exit_1(tmp_path):
    old, new, _ = fixture(tmp_path)
    cases = [
        ('{"account": "acme"}\n\n{"account": 7}\n', "accounts.jsonl:3: account: expected a string"),
        ('{"account": "a"}\nnot json\n', "accounts.jsonl:2: not valid JSON"),
        ('{"account": "a", "roles": "admin"}\n', "accounts.jsonl:1: roles: expected an array"),
        ('{"account": "a"}\n{"account": "a"}\n', "accounts.jsonl:2: duplicate account 'a' (first at line 1)"),
        ('{"account": "a", "claims": {"x": 1}}\n', "accounts.jsonl:1: claims.x: expected a string"),
    ]
    for text, message in cases:
        path = tmp_path / "accounts.jsonl"
        path.write_text(text)
        result = impact("--from", old, "--to", new, "--accounts", path)
        assert result.returncode == 1 and message in result.stderr, (text, result)
    path = tmp_path / "requests.jsonl"
    path.write_text('{"method": "GET", "path": "/orders", "route": "orders"}\n'
                    '{"method": "GET", "path": "orders", "route": "orders"}\n')
    result = impact("--from", old, "--to", new, "--requests", path)
    assert result.returncode == 1 and "requests.jsonl:2: path: expected a string starting" in result.stderr


def test_requests_replayed_on_their_recorded_paths(tmp_path):
    old, new, _ = fixture(tmp_path)
    requests = jsonl(tmp_path / "requests.jsonl", [
        {"method": "GET", "path": "/orders/7", "route": "orders", "principal": "alice",
         "account": "acme", "roles": ["user"], "request_id": "r1", "future_field": {"x": 1}},
        {"method": "POST", "path": "/orders/7", "route": "orders", "principal": "alice",
         "account": "acme", "roles": ["user"], "client": "192.0.2.1", "request_id": "r2"},
        {"method": "GET", "path": "/status", "route": "status", "request_id": "r3"},
        {"method": "GET", "path": "/files/12", "route": "files", "principal": "carol",
         "account": "globex", "roles": ["admin"], "client": "2001:db8::1", "request_id": "r4"},
    ])
    result = impact("--from", old, "--to", new, "--requests", requests, "--format", "json")
    assert result.returncode == 3, result
    report = json.loads(result.stdout)
    changed = {r["request_id"]: r for r in report["requests"]}
    assert set(changed) == {"r2", "r3"}
    assert changed["r2"]["line"] == 2 and changed["r2"]["change"] == "lost"
    assert changed["r2"]["before"] == {"allowed": True, "reason": "policy", "policy": "orders",
                                       "rule": 0, "rule_name": "members"}
    assert changed["r2"]["after"]["default_deny"] is True
    assert changed["r3"]["anonymous"] is True
    assert report["summary"]["requests"] == {"replayed": 4, "changed": 2, "gained": 0, "lost": 2}
    table = impact("--from", old, "--to", new, "--requests", requests)
    assert table.returncode == 3
    assert "requests.jsonl:2  lost  POST /orders/7  route orders  alice@acme  id r2" in table.stdout


def test_100k_accounts_by_1k_routes(tmp_path):
    old, new, accounts = impact_fixtures.write(tmp_path, accounts=100000, route_count=1000)
    start = time.monotonic()
    result = impact("--from", old, "--to", new, "--accounts", accounts, timeout=300)
    elapsed = time.monotonic() - start
    print(f"policy impact, 100,000 accounts x 1,000 routes: {elapsed:.2f} s")
    assert result.returncode == 3, result.stderr[-2000:]
    assert "100000 accounts" in result.stdout
    assert elapsed < 60, elapsed  # generous: measured ~1-2 s on 2 cores
