#!/usr/bin/env python3
"""make infra-check's smoke test: the real binary, run the way the cluster runs it.

render-check.yml renders the deployment for tests/local (every group on this
machine, connection local) into a temporary root, with the role's own tasks:
env files, per-role env files, tributary@.service, haproxy.cfg, Prometheus's
targets. This script then starts each role with exactly the rendered
EnvironmentFile, WorkingDirectory and ExecStart lines (there is no systemd as
PID 1 here), HAProxy with the rendered haproxy.cfg, redis_exporter as the
redis role configures it, and Prometheus with the rendered configuration, and
checks what a first deploy needs:
  - every long-running role is still up after a while (serve used to exit:
    --airports pointed at a relative data/airports.csv);
  - the rendered replay unit sends 3,000 flights (tests/data) and ends; the
    archivers commit them;
  - the API answers through HAProxy, and POST /v1/admin/batch reaches a
    scheduler (serve's --scheduler-url used to default to 127.0.0.1:8090);
  - Prometheus scrapes every started target, evaluates every rule without
    error, and no TargetDown is pending for the idle replayer (it used to
    fire forever);
  - the batch timer's ExecStart submits a recompute and waits for its end.
Redis and RabbitMQ are the private ones of `make services` (.run/env): plain
URLs, one node each. Ports: TRIBUTARY_INFRA_PORT_BASE (default 17400) to +99.
Usage: smoke.py REPO_ROOT"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

root = Path(sys.argv[1]).resolve()
ansible_dir = root / "infra/ansible"
base = int(os.environ.get("TRIBUTARY_INFRA_PORT_BASE", "17400"))
procs = []
failures = []


def log(msg):
    print(f"smoke: {msg}", flush=True)


def fail(msg):
    failures.append(msg)
    log("FAIL " + msg)


def run_env():
    env = {}
    path = root / ".run/env"
    if not path.exists():
        sys.exit("smoke: .run/env is missing: run `make services` first")
    for line in path.read_text().splitlines():
        m = re.match(r"export (\w+)='(.*)'$", line.strip())
        if m:
            env[m.group(1)] = m.group(2)
    return env


def http(method, url, token=None, timeout=10):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        return 0, str(e)


def wait_http(url, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        code, _ = http("GET", url, timeout=2)
        if code == 200:
            return True
        time.sleep(0.5)
    fail(f"{what} did not answer {url} within {seconds}s")
    return False


def unit_command(unit_text, instance):
    """EnvironmentFile, WorkingDirectory and ExecStart of a rendered unit, %i expanded."""
    text = unit_text.replace("%i", instance)
    envfiles = re.findall(r"^EnvironmentFile=(-?)(\S+)", text, re.M)
    workdir = re.search(r"^WorkingDirectory=(\S+)", text, re.M).group(1)
    execstart = re.search(r"^ExecStart=(.+)$", text, re.M).group(1).split()
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir}
    for optional, path in envfiles:
        p = Path(path)
        if not p.exists():
            if optional:
                continue
            raise SystemExit(f"smoke: EnvironmentFile {path} of tributary@{instance} is missing")
        for line in p.read_text().splitlines():
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v
    return execstart, env, workdir


def start(name, argv, env, cwd, logdir):
    out = open(logdir / f"{name}.log", "w")
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    procs.append((name, p))
    log(f"started {name} (pid {p.pid}): {' '.join(argv)}")
    return p


def stop_all():
    for name, p in reversed(procs):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for name, p in reversed(procs):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def main():
    svc = run_env()
    redis = urllib.parse.urlparse(svc["TRIBUTARY_REDIS_URL"])
    amqp = urllib.parse.urlparse(svc["TRIBUTARY_AMQP_URL"])
    rabbit_metrics = urllib.parse.urlparse(svc["TRIBUTARY_RABBITMQ_METRICS_URL"])
    binary = root / "bin/tributary"
    if not binary.exists():
        sys.exit("smoke: bin/tributary is missing: run `make build` first")

    work = Path(tempfile.mkdtemp(prefix="tributary-infra-smoke-"))
    out, logdir = work / "root", work / "logs"
    logdir.mkdir()
    run_id = f"{os.getpid()}-{int(time.time())}"
    extra = {
        "render_out": str(out), "infra_port_base": base, "infra_run_id": run_id,
        "tributary_binary": str(binary),
        "redis_port": redis.port, "vault_redis_password": urllib.parse.unquote(redis.password or ""),
        "rabbitmq_user": amqp.username, "vault_rabbitmq_password": urllib.parse.unquote(amqp.password or ""),
        "rabbitmq_amqp_port": amqp.port, "rabbitmq_prometheus_port": rabbit_metrics.port,
    }
    (work / "extra.json").write_text(json.dumps(extra))
    log(f"rendering tests/local into {out}")
    t0 = time.time()
    # The hosts whose files the smoke test runs (broker, Redis: make services').
    r = subprocess.run(["ansible-playbook", "-i", "tests/local", "render-check.yml", "--limit", "t-control-1,t-monitor,t-speed-1,t-batch-1",
                        "-e", "@" + str(work / "extra.json")],
                       cwd=ansible_dir, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-6000:], r.stderr[-3000:])
        sys.exit("smoke: render-check.yml failed on tests/local")
    log(f"rendered in {time.time() - t0:.0f}s")

    try:
        check(out, logdir, extra, svc)
    finally:
        stop_all()
    if failures:
        for name, _ in procs:
            print(f"----- {name}.log (last lines)")
            print("\n".join((logdir / f"{name}.log").read_text().splitlines()[-15:]))
        print(f"smoke: {len(failures)} failure(s); logs in {logdir}", file=sys.stderr)
        sys.exit(1)
    # The rendered tree, Prometheus' data and the logs take ~360 MB: a
    # passing run leaves nothing behind (a failing one keeps them).
    shutil.rmtree(work, ignore_errors=True)
    log("all checks passed")


def check(out, logdir, extra, svc):
    token = "test-admin-token"
    roles = {"t-control-1": ["scheduler", "archive", "serve"], "t-speed-1": ["speed"], "t-batch-1": ["worker"]}
    # Prometheus first: it sees the replayer up, then idle.
    started = {}
    for host, host_roles in roles.items():
        unit = (out / host / "etc/systemd/system/tributary@.service").read_text()
        for role in host_roles:
            argv, env, cwd = unit_command(unit, role)
            started[role] = start(f"{host}-{role}", argv, env, cwd, logdir)
    replay_env = out / "t-control-1/etc/tributary/replay.env"
    if not replay_env.exists():
        fail("replay.env was not rendered for the first control host")

    # HAProxy with the rendered haproxy.cfg, redis_exporter as the redis role runs it.
    start("haproxy", ["haproxy", "-db", "-f", str(out / "t-control-1/etc/haproxy/haproxy.cfg")], {"PATH": "/usr/bin:/bin:/usr/sbin"}, str(out), logdir)
    start("redis_exporter", ["prometheus-redis-exporter", f"-redis.addr=redis://127.0.0.1:{extra['redis_port']}",
                             f"-web.listen-address=127.0.0.1:{base + 21}"],
          {"PATH": "/usr/bin:/bin", "REDIS_PASSWORD": extra["vault_redis_password"]}, str(out), logdir)
    prom = out / "t-monitor/etc/prometheus"
    start("prometheus", ["prometheus", f"--config.file={prom / 'prometheus.yml'}", f"--storage.tsdb.path={out / 'prometheus-data'}",
                         f"--web.listen-address=127.0.0.1:{base + 95}"], {"PATH": "/usr/bin:/bin"}, str(prom), logdir)

    serve_url = f"http://127.0.0.1:{base + 80}"
    lb_url = f"http://127.0.0.1:{base + 81}"
    wait_http(f"http://127.0.0.1:{base + 90}/healthz", "the scheduler (rendered ExecStart)")
    wait_http(serve_url + "/healthz", "serve (rendered ExecStart)")
    wait_http(lb_url + "/haproxy-health", "HAProxy's health check (a live serve backend)")
    code, body = http("GET", lb_url + "/healthz")
    if code != 200:
        fail(f"GET /healthz through HAProxy: {code} {body[:200]}")

    # The replayer, as the operator starts it (systemctl start tributary@replay).
    unit = (out / "t-control-1/etc/systemd/system/tributary@.service").read_text()
    argv, env, cwd = unit_command(unit, "replay")
    t0 = time.time()
    replay = start("t-control-1-replay", argv, env, cwd, logdir)
    try:
        replay.wait(timeout=120)
    except subprocess.TimeoutExpired:
        fail("tributary replay (rendered unit) did not end within 120s")
    if replay.returncode != 0:
        fail(f"tributary replay (rendered unit) exited {replay.returncode}")
    else:
        log(f"replay sent the smoke data set and ended in {time.time() - t0:.0f}s")

    # POST /v1/admin/batch through HAProxy: serve must reach a scheduler. It
    # answers 500 "no committed segment" until an archiver has committed one.
    deadline, code, body = time.time() + 120, 0, ""
    while time.time() < deadline:
        code, body = http("POST", lb_url + "/v1/admin/batch", token=token, timeout=30)
        if code == 202 or "no committed segment" not in body:
            break
        time.sleep(2)
    if code != 202:
        fail(f"POST /v1/admin/batch through HAProxy answered {code}: {body[:300]}")
    else:
        log(f"POST /v1/admin/batch through HAProxy: 202 {body.strip()}")

    # The batch timer's unit, as rendered: it submits a recompute and waits for it.
    unit = (out / "t-control-1/etc/systemd/system/tributary-batch.service").read_text()
    argv, env, cwd = unit_command(unit, "batch")
    t0 = time.time()
    r = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=240)
    done = re.search(r'msg="recompute done".* events=(\d+)', r.stdout + r.stderr)
    if r.returncode != 0:
        fail(f"tributary-batch.service's ExecStart exited {r.returncode}: {(r.stdout + r.stderr)[-600:]}")
    elif not done or int(done.group(1)) == 0:
        fail(f"tributary-batch.service's ExecStart did not report a recompute over the replayed events: {(r.stdout + r.stderr)[-600:]}")
    else:
        log(f"tributary-batch.service ExecStart: a recompute over {done.group(1)} events ran to its end in {time.time() - t0:.0f}s")

    # Prometheus: every target started is up, the replayer is down and no
    # TargetDown is pending for it, every rule evaluates.
    prom_url = f"http://127.0.0.1:{base + 95}"
    wait_http(prom_url + "/-/ready", "Prometheus (rendered configuration)")
    want_up = {"tributary_scheduler", "tributary_archive", "tributary_serve", "tributary_speed", "tributary_worker", "haproxy", "rabbitmq", "redis"}
    deadline = time.time() + 60
    while True:
        _, body = http("GET", prom_url + "/api/v1/query?query=" + urllib.parse.quote("up"))
        up = {(s["metric"]["job"], s["metric"]["instance"]): s["value"][1] for s in json.loads(body)["data"]["result"]}
        down = sorted(j for (j, i), v in up.items() if j in want_up and v != "1")
        seen = {j for (j, i) in up}
        _, body = http("GET", prom_url + "/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        evaluated = all(r.get("lastEvaluation", "").startswith("20") and not r["lastEvaluation"].startswith("0001") for g in groups for r in g["rules"])
        if (want_up <= seen and not down and evaluated) or time.time() > deadline:
            break
        time.sleep(2)
    if not want_up <= seen or down:
        fail(f"Prometheus targets not up: missing {sorted(want_up - seen)}, down {down}")
    if ("tributary_replay", f"127.0.0.1:{base}") not in up or up[("tributary_replay", f"127.0.0.1:{base}")] != "0":
        fail("the idle replayer's target should be scraped and down")
    bad = [f"{r['name']}: {r.get('lastError')}" for g in groups for r in g["rules"] if r.get("health") != "ok"]
    if bad:
        fail("rules that do not evaluate: " + "; ".join(bad))
    _, body = http("GET", prom_url + "/api/v1/query?query=" + urllib.parse.quote('ALERTS{alertname="TargetDown"}'))
    target_down = [s["metric"] for s in json.loads(body)["data"]["result"]]
    if any(m.get("job") == "tributary_replay" for m in target_down):
        fail("TargetDown is pending or firing for the idle replayer")
    # Not started here: node_exporter, Alertmanager; Prometheus's own job
    # targets localhost:9090, where it listens on the cluster.
    unexpected = [m for m in target_down if m.get("job") not in ("node", "alertmanager", "prometheus")]
    if unexpected:
        fail(f"TargetDown for started roles: {unexpected}")
    log(f"Prometheus: {len(seen)} jobs, {sum(len(g['rules']) for g in groups)} rules evaluated; TargetDown only for "
        f"{sorted({m['job'] for m in target_down}) or 'none'} (node_exporter, Alertmanager and Prometheus's own 9090 are not started here)")

    for role, p in started.items():
        if p.poll() is not None:
            fail(f"tributary {role} exited with {p.returncode} (rendered unit would restart it in a loop)")
    if not failures:
        log("every rendered role stayed up: " + ", ".join(started))


if __name__ == "__main__":
    main()
