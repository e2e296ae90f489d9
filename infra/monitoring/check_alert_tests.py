#!/usr/bin/env python3
"""Checks that every alert of alerts.yml fires in at least one test of
alerts_test.yml and stays quiet (exp_alerts: []) in at least one other check,
so that no rule is left untested or tested only one way. Run by make
infra-check after `promtool test rules alerts_test.yml`."""
import sys
from pathlib import Path

import yaml

here = Path(__file__).resolve().parent
alerts = [r["alert"] for g in yaml.safe_load((here / "alerts.yml").read_text())["groups"]
          for r in g["rules"] if "alert" in r]
fires, quiet = set(), set()
for test in yaml.safe_load((here / "alerts_test.yml").read_text())["tests"]:
    for check in test.get("alert_rule_test", []):
        (fires if check.get("exp_alerts") else quiet).add(check["alertname"])

problems = [f"{a}: never fires in a test" for a in alerts if a not in fires]
problems += [f"{a}: never tested quiet" for a in alerts if a not in quiet]
problems += [f"{a}: tested but not in alerts.yml" for a in sorted((fires | quiet) - set(alerts))]
if problems:
    print("alerts_test.yml does not cover alerts.yml:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"alerts_test.yml: each of the {len(alerts)} alerts fires in a test and stays quiet in another")
