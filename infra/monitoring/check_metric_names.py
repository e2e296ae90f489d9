#!/usr/bin/env python3
"""Checks that every tributary_* metric that alerts.yml or the Grafana
dashboard queries is registered by the Go code (a quoted name in a .go file
that is not a test), so that no rule or panel waits for a metric nobody
exports. Run by make infra-check."""
import json
import re
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
repo = here.parent.parent
names = re.compile(r"\btributary_[a-z0-9_]+\b")
exprs = [r["expr"] for g in __import__("yaml").safe_load((here / "alerts.yml").read_text())["groups"] for r in g["rules"]]
dash = json.loads((here / "grafana/dashboards/tributary.json").read_text())
exprs += [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
wanted = set()
for e in exprs:
    for n in names.findall(e):
        wanted.add(re.sub(r"_(bucket|sum|count)$", "", n))

go = "\n".join(p.read_text() for p in repo.rglob("*.go") if not p.name.endswith("_test.go") and ".git" not in p.parts)
quoted = set(re.findall(r'"([a-z0-9_]+)"', go))
missing = []
for n in sorted(wanted):
    # Full name, or the name without its tributary_SUBSYSTEM_ prefix (built by a helper).
    short = n.split("_", 2)[2] if n.count("_") >= 2 else n
    if n not in quoted and short not in quoted:
        missing.append(n)
if missing:
    print("queried but not registered by the Go code:\n  " + "\n  ".join(missing), file=sys.stderr)
    sys.exit(1)
print(f"every one of the {len(wanted)} tributary_* metrics the alerts and the dashboard query is registered by the code")
