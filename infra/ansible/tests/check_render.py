#!/usr/bin/env python3
"""Checks the files render-check.yml wrote for tests/cluster (the default
deployment): what a first deploy needs and what broke before (serve's
airports path, serve's scheduler URL, an alert on the idle replayer).
Usage: check_render.py RENDER_DIR"""
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])
problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)


def env(host, name):
    f = out / host / "etc/tributary" / name
    if not f.exists():
        return None
    return dict(line.split("=", 1) for line in f.read_text().splitlines() if line and not line.startswith("#"))


controls = ["tributary-control-1", "tributary-control-2"]
control_ips = ["10.20.0.8", "10.20.0.9"]

for host in controls:
    if not (out / host).exists():
        continue  # render-check may be limited to some hosts
    root = out / host
    serve = env(host, "serve.env")
    check(serve is not None, f"{host}: no serve.env")
    if serve:
        airports = serve.get("TRIBUTARY_AIRPORTS", "")
        check(airports.startswith(str(root) + "/"), f"{host}: serve's --airports is not an absolute path under the install root: {airports!r}")
        check(Path(airports).is_file(), f"{host}: serve's airports file {airports} is not installed")
        urls = serve.get("TRIBUTARY_SCHEDULER_URL", "").split(",")
        check(urls == [f"http://{ip}:8090" for ip in control_ips], f"{host}: serve's --scheduler-url is {urls}, not every scheduler's private address")
    shared = env(host, "env")
    redis = shared["TRIBUTARY_REDIS_URL"]
    check(re.fullmatch(r"redis://:[^@]+@10\.20\.0\.6:26379/0\?master_name=tributary&addr=10\.20\.0\.7:26379&addr=10\.20\.0\.10:26379", redis) is not None,
          f"{host}: --redis-url is not the 3 Sentinels' failover URL: {redis}")
    amqp = shared["TRIBUTARY_AMQP_URL"].split(",")
    check(sorted(u.split("@")[1] for u in amqp) == ["10.20.0.3:5672/%2F", "10.20.0.4:5672/%2F", "10.20.0.5:5672/%2F"],
          f"{host}: --amqp-url does not list the 3 brokers: {amqp}")
    check(shared.get("TRIBUTARY_STREAM_REPLICAS") == "3" and shared.get("TRIBUTARY_STREAM_MAX_AGE") == "7D"
          and int(shared.get("TRIBUTARY_STREAM_MAX_BYTES", "0")) > 0,
          f"{host}: streams not declared with 3 replicas and a retention: {shared}")
    unit = (root / "etc/systemd/system/tributary@.service").read_text()
    execstart = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    check(Path(execstart).is_file(), f"{host}: ExecStart binary {execstart} not installed")
    wd = re.search(r"^WorkingDirectory=(\S+)", unit, re.M).group(1)
    check(Path(wd).is_dir(), f"{host}: WorkingDirectory {wd} missing")
    haproxy = (root / "etc/haproxy/haproxy.cfg").read_text()
    check(re.findall(r"^\s+server \S+ (\S+) check", haproxy, re.M) == [f"{ip}:8080" for ip in control_ips],
          f"{host}: HAProxy does not balance over both serve replicas")

# The replayer and the batch timer: first control VM only.
if (out / controls[1]).exists():
    check(env(controls[1], "replay.env") is None, "replay is installed on the second control VM too")
if (out / controls[0]).exists():
    check(env(controls[0], "replay.env") is not None, "replay is not installed on the first control VM")

mon = out / "tributary-monitor/etc/prometheus"
if mon.exists():
    replay = (mon / "targets/replay.yml").read_text()
    check('idle_ok: "true"' in replay and replay.count("targets:") == 1, "the replay target is not a single idle_ok target")
    rules = (mon / "config_rules.yml").read_text()
    for rec, val in [("partitions", 8), ("rabbitmq_nodes", 3), ("redis_nodes", 2), ("schedulers", 2)]:
        check(re.search(rf"record: tributary:config_{rec}\n\s+expr: vector\({val}\)", rules) is not None, f"config_rules.yml: {rec} is not {val}")
    check((mon / "targets/speed.yml").read_text().count("targets:") == 2, "speed targets are not the 2 speed workers")

r1, r2 = out / "tributary-redis-1/etc/redis/redis.conf", out / "tributary-redis-2/etc/redis/redis.conf"
if r1.exists():
    check("replicaof" not in r1.read_text(), "redis-1 (the initial primary) is configured as a replica")
if r2.exists():
    check("replicaof 10.20.0.6 6379" in r2.read_text(), "redis-2 is not a replica of redis-1")
b1 = out / "tributary-broker-1/etc/rabbitmq/rabbitmq.conf"
if b1.exists():
    check(len(re.findall(r"^cluster_formation\.classic_config\.nodes\.\d = rabbit@tributary-broker-\d$", b1.read_text(), re.M)) == 3,
          "rabbitmq.conf does not list the 3 brokers")

if problems:
    print("rendered deployment:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"rendered deployment in {out}: checks passed")
