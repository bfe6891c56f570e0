"""Inputs for `rampart policy impact` at scale: an OLD and a NEW config with
`routes` routes over ten policies, and an accounts file of `accounts` lines.

NEW tightens one policy (writes need admin), loosens another (a claim now
grants access), moves two rollouts, removes and adds a few routes, and adds
a param_equals rule; about 1% of the routes have regex paths. Deterministic
(seeded), so timings are comparable between runs.

    /usr/bin/python3 tests/integration/impact_fixtures.py --out /tmp/impact \\
        --accounts 100000 --routes 1000
    time build/rampart policy impact --from /tmp/impact/old.yaml \\
        --to /tmp/impact/new.yaml --accounts /tmp/impact/accounts.jsonl
"""
import argparse
import json
import random
from pathlib import Path

import helpers

ROLES = ["user", "admin", "auditor", "ops", "billing", "support", "guest", "dev"]
SCOPES = ["orders:read", "orders:write", "reports:read", "billing:read", "admin:all"]
PLANS = ["free", "pro", "enterprise"]
REGIONS = ["eu", "us", "ap"]
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


def policies(new):
    """Ten policies; p3 and p7 differ between OLD and NEW."""
    out = []
    for i in range(10):
        rules = [
            {"name": "deny-guests", "effect": "deny", "roles": ["guest"], "methods": WRITES},
            {"name": "members", "effect": "allow", "roles": [ROLES[i % 4], "admin"]},
            {"name": "scoped", "effect": "allow", "scopes": [SCOPES[i % len(SCOPES)]],
             "methods": ["GET", "HEAD"]},
            {"name": "partners", "effect": "allow", "accounts": [f"acct{n}" for n in range(i, 500, 10)]},
        ]
        if i == 3 and new:  # tightening: writes need admin
            rules.insert(1, {"name": "writes-need-admin", "effect": "deny", "methods": WRITES,
                             "roles": ["user", "auditor", "ops", "billing", "support", "dev"]})
        if i == 7 and new:  # loosening: enterprise customers in the EU read everything
            rules.append({"name": "enterprise-eu", "effect": "allow", "methods": ["GET"],
                          "claims": {"plan": ["enterprise"], "region": "eu"}})
            rules.append({"name": "own-tenant", "effect": "allow",
                          "paths": ["/r7/{account}/**"], "param_equals": {"account": "account"}})
        if i == 5:
            rules.append({"name": "pinned", "effect": "allow", "principals": ["u1", "u2", "u3"]})
        out.append({"name": f"p{i}", "rules": rules})
    return out


def routes(count, new):
    out = []
    for i in range(count):
        if new and i in (11, 12, 13, 14, 15):
            continue  # removed in NEW
        name = f"r{i}"
        if i % 97 == 0:
            match = {"regex": f"/re{i}/[0-9]+"}
        elif i % 3 == 0:
            match = {"exact": f"/r{i % 10}/item{i}"}
        else:
            match = {"prefix": f"/r{i % 10}/section{i}"}
        if i % 4 == 0:
            match["methods"] = ["GET", "POST"]
        route = {"name": name, "match": match, "cluster": "app"}
        if i % 50 == 1:
            route["public"] = True
        else:
            route["policy"] = f"p{i % 10}"
            if i % 10 == 2 and i % 20 == 2:
                route["rollout"] = {"policy": "p3", "percent": 30 if new else 10}
            if i % 10 == 4 and i % 40 == 4:
                route["shadow_policy"] = "p3"
        out.append(route)
    if new:
        for i in range(5):
            out.append({"name": f"new{i}", "match": {"prefix": f"/new{i}"}, "cluster": "app",
                        "policy": f"p{i}"})
    return out


def config_text(route_count, new):
    return helpers.config(helpers.free_port(), [helpers.cluster("app", ["127.0.0.1:9"])],
                          [{"name": "api", "domains": ["*"], "routes": routes(route_count, new)}],
                          policies=policies(new), authorization={"rollout_seed": 42})


def account_lines(count, seed=1):
    rng = random.Random(seed)
    for n in range(count):
        principals = [f"u{n}"] + ([f"u{n}-bot"] if rng.random() < 0.3 else [])
        line = {"account": f"acct{n}", "principals": principals,
                "roles": rng.sample(ROLES, rng.randint(0, 3)),
                "scopes": rng.sample(SCOPES, rng.randint(0, 2)),
                "claims": {"plan": rng.choice(PLANS), "region": rng.sample(REGIONS, rng.randint(1, 2))}}
        yield json.dumps(line, separators=(",", ":"))


def write(out, accounts, route_count):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "old.yaml").write_text(config_text(route_count, new=False))
    (out / "new.yaml").write_text(config_text(route_count, new=True))
    with open(out / "accounts.jsonl", "w") as f:
        for line in account_lines(accounts):
            f.write(line + "\n")
    return out / "old.yaml", out / "new.yaml", out / "accounts.jsonl"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--accounts", type=int, default=100000)
    parser.add_argument("--routes", type=int, default=1000)
    args = parser.parse_args()
    for path in write(args.out, args.accounts, args.routes):
        print(path)


if __name__ == "__main__":
    main()
