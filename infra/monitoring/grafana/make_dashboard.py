#!/usr/bin/env python3
"""Writes dashboards/tributary.json, the Grafana dashboard that the Ansible
role "monitoring" provisions. Edit the panels here and run it again:
    python3 infra/monitoring/grafana/make_dashboard.py
"""
import json
import os

DS = {"type": "prometheus", "uid": "prometheus"}
panels = []
_id = 0


def _next_id():
    global _id
    _id += 1
    return _id


def row(title, y):
    panels.append({"type": "row", "title": title, "id": _next_id(), "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})


def ts(title, targets, x, y, w=8, h=8, unit="short", description="", stack=False):
    panels.append({
        "type": "timeseries", "title": title, "id": _next_id(), "datasource": DS,
        "description": description,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit, "custom": {
            "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"}}}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [{"datasource": DS, "refId": chr(ord("A") + i), "expr": e, "legendFormat": l}
                    for i, (e, l) in enumerate(targets)],
    })


def stat(title, expr, x, y, w=4, h=4, unit="short", thresholds=None):
    steps = thresholds or [{"color": "green", "value": None}]
    panels.append({
        "type": "stat", "title": title, "id": _next_id(), "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "area", "textMode": "auto"},
        "targets": [{"datasource": DS, "refId": "A", "expr": expr}],
    })


RED_IF_ZERO = [{"color": "red", "value": None}, {"color": "green", "value": 1}]
RED_IF_ANY = [{"color": "green", "value": None}, {"color": "red", "value": 1}]

y = 0
row("Overview", y); y += 1
stat("Ingest (events/s)", "sum(rate(tributary_replay_confirmed_events_total[1m]))", 0, y, unit="short")
stat("Speed applied (events/s)", "sum(rate(tributary_speed_events_applied_total[1m]))", 4, y)
stat("Total lag (messages)", "sum(tributary_speed_consumer_lag_messages)", 8, y)
stat("Partitions owned", "sum(tributary_speed_partitions_owned)", 12, y, thresholds=RED_IF_ZERO)
stat("Scheduler leader", "sum(tributary_scheduler_leader)", 16, y, thresholds=RED_IF_ZERO)
stat("Targets down", "count(up == 0) or vector(0)", 20, y, thresholds=RED_IF_ANY)
y += 4

row("Ingest", y); y += 1
ts("Ingest rate (confirmed events/s)", [
    ("sum(rate(tributary_replay_confirmed_events_total[1m]))", "confirmed"),
    ("sum(rate(tributary_replay_published_events_total[1m]))", "published"),
], 0, y, description="tributary_replay_*: events the broker confirmed (only these count as sent) and published.")
ts("Replay publish latency", [
    ("histogram_quantile(0.5, sum by (le) (rate(tributary_replay_publish_latency_seconds_bucket[1m])))", "p50"),
    ("histogram_quantile(0.99, sum by (le) (rate(tributary_replay_publish_latency_seconds_bucket[1m])))", "p99"),
], 8, y, unit="s")
ts("Replay faults", [
    ("sum(increase(tributary_replay_nacked_messages_total[1m]))", "nacked / min"),
    ("sum(increase(tributary_replay_republished_messages_total[1m]))", "republished / min"),
    ("sum(increase(tributary_replay_reconnects_total[1m]))", "reconnects / min"),
], 16, y)
y += 8
ts("Messages held per stream partition (broker)", [
    ('sum by (queue) (rabbitmq_detailed_queue_messages{queue=~"tributary\\\\.flights\\\\..*"})', "{{queue}}"),
], 0, y, w=12, description="rabbitmq_prometheus, /metrics/detailed (job rabbitmq_queues).")
ts("Event time reached by the replayer", [
    ("max(tributary_replay_event_time_seconds) * 1000", "event time"),
], 12, y, w=12, unit="dateTimeAsIso")
y += 8

row("Speed layer", y); y += 1
ts("Events applied/s per worker", [
    ("sum by (instance) (rate(tributary_speed_events_applied_total[1m]))", "{{instance}}"),
], 0, y, stack=True)
ts("Consumer lag per partition (messages)", [
    ("max by (partition) (tributary_speed_consumer_lag_messages)", "p{{partition}}"),
], 8, y)
ts("Flush latency", [
    ("histogram_quantile(0.5, sum by (le) (rate(tributary_speed_flush_duration_seconds_bucket[1m])))", "p50"),
    ("histogram_quantile(0.99, sum by (le) (rate(tributary_speed_flush_duration_seconds_bucket[1m])))", "p99"),
], 16, y, unit="s")
y += 8
ts("Publish-to-view latency", [
    ("histogram_quantile(0.5, sum by (le) (rate(tributary_speed_event_to_view_seconds_bucket[1m])))", "p50"),
    ("histogram_quantile(0.99, sum by (le) (rate(tributary_speed_event_to_view_seconds_bucket[1m])))", "p99"),
], 0, y, unit="s")
ts("Partitions owned per worker", [
    ("tributary_speed_partitions_owned", "{{instance}}"),
], 8, y, stack=True, description="Rebalancing after a worker joins or dies: the lease TTL is 5 s.")
ts("Speed faults (per min)", [
    ("sum(increase(tributary_speed_flush_refused_total[1m]))", "flushes refused (fencing)"),
    ("sum(increase(tributary_speed_flush_errors_total[1m]))", "flush errors"),
    ("sum(increase(tributary_speed_leases_lost_total[1m]))", "leases lost"),
    ("sum(increase(tributary_speed_rebalances_total[1m]))", "rebalances"),
    ("sum(increase(tributary_speed_quarantined_messages_total[1m]))", "quarantined"),
    ("sum(increase(tributary_speed_duplicate_events_total[1m]))", "duplicates dropped"),
    ("sum(increase(tributary_speed_late_events_total[1m]))", "late events"),
], 16, y)
y += 8

row("Batch layer and scheduler", y); y += 1
ts("Scheduler tasks/s", [
    ("max(rate(tributary_scheduler_tasks_completed_total[1m]))", "completed (cluster)"),
    ("max(rate(tributary_scheduler_tasks_memoized_total[1m]))", "memoized (cluster)"),
    ("sum(rate(tributary_scheduler_tasks_submitted_total[1m]))", "submitted"),
    ("sum(rate(tributary_scheduler_tasks_redispatched_total[1m]))", "redispatched"),
], 0, y, description="completed/memoized are cluster-wide counters every replica reads from Redis: max(), not sum().")
ts("Worker tasks/s by function and outcome", [
    ("sum by (function, outcome) (rate(tributary_worker_tasks_total[1m]))", "{{function}} {{outcome}}"),
], 8, y)
ts("Queue depth", [
    ('max by (queue, state) (tributary_scheduler_queue_depth{state=~"pending|active|retry"})', "{{queue}} {{state}}"),
], 16, y)
y += 8
ts("Batch runs (graphs finished per 15 min)", [
    ("max by (state) (increase(tributary_scheduler_graphs_finished_total[15m]))", "{{state}}"),
    ("max(tributary_scheduler_graphs_running)", "running"),
], 0, y, description="Each `tributary batch run` is one task graph; its tasks are batch.* in the worker panel.")
ts("Batch task duration p90 by function", [
    ('histogram_quantile(0.9, sum by (le, function) (rate(tributary_worker_task_duration_seconds_bucket{function=~"batch\\\\..*"}[5m])))', "{{function}}"),
], 8, y, unit="s")
ts("Archive: events archived/s and segments", [
    ("sum(rate(tributary_archive_archived_events_total[1m]))", "events/s"),
    ("sum(increase(tributary_archive_segments_total[5m]))", "segments / 5 min"),
    ("time() - min(tributary_archive_complete_up_to_seconds)", "archive behind event time (s)"),
], 16, y)
y += 8
ts("Live workers and running tasks", [
    ("max(tributary_scheduler_live_workers)", "live workers"),
    ("sum(tributary_worker_running_tasks)", "running tasks"),
], 0, y, w=12)
ts("Batch reconciliation mismatches", [
    ("max(tributary_batch_reconcile_count_mismatches)", "mismatches"),
], 12, y, w=12, description="Count mismatches between the speed and batch views found by the last reconciliation (batch/reconcile, exported by the archivers).")
y += 8

row("Serving", y); y += 1
ts("Request rate by endpoint", [
    ("sum by (endpoint) (rate(tributary_serve_requests_total[1m]))", "{{endpoint}}"),
    ('sum(rate(tributary_serve_requests_total{code=~"5.."}[1m]))', "5xx"),
], 0, y, w=12)
ts("Request latency", [
    ("histogram_quantile(0.5, sum by (le) (rate(tributary_serve_request_duration_seconds_bucket[1m])))", "p50"),
    ("histogram_quantile(0.99, sum by (le) (rate(tributary_serve_request_duration_seconds_bucket[1m])))", "p99"),
    ("histogram_quantile(0.99, sum by (le, endpoint) (rate(tributary_serve_request_duration_seconds_bucket[1m])))", "p99 {{endpoint}}"),
], 12, y, w=12, unit="s")
y += 8

row("Redis (primary, replica, Sentinel)", y); y += 1
stat("Redis primaries", 'count(redis_instance_info{role="master"}) or vector(0)', 0, y, thresholds=RED_IF_ZERO)
stat("Replicas connected", 'sum(redis_connected_slaves and on(instance) redis_instance_info{role="master"}) or vector(0)', 4, y,
     thresholds=RED_IF_ZERO)
stat("Replica link up", "min(redis_master_link_up) or vector(0)", 8, y, thresholds=RED_IF_ZERO)
stat("Redis down", "count(redis_up == 0) or vector(0)", 12, y, thresholds=RED_IF_ANY)
stat("Failovers (1 h)", 'count(redis_instance_info{role="master"} and on(instance) max_over_time(redis_instance_info{role="slave"}[1h])) or vector(0)',
     16, y, thresholds=RED_IF_ANY)
stat("Evicted keys (must stay 0)", "sum(redis_evicted_keys_total) or vector(0)", 20, y, thresholds=RED_IF_ANY)
y += 4
ts("Role per Redis (1 = primary)", [
    ('max by (host) (redis_instance_info{role="master"})', "{{host}} primary"),
    ('max by (host) (redis_instance_info{role="slave"}) * 0', "{{host}} replica"),
], 0, y, description="A Sentinel failover shows as the primary line moving from one host to the other.")
ts("Redis memory", [
    ("max by (host) (redis_memory_used_bytes)", "{{host}} used"),
    ("max by (host) (redis_memory_max_bytes) > 0", "{{host}} maxmemory"),
    ("max by (host) (node_memory_MemTotal_bytes) and on(host) redis_up", "{{host}} VM memory"),
], 8, y, unit="bytes")
ts("Redis connections and commands", [
    ("sum by (host) (redis_connected_clients)", "{{host}} clients"),
    ("sum by (host) (rate(redis_commands_processed_total[1m]))", "{{host}} commands/s"),
], 16, y)
y += 8
ts("Replication lag", [
    ("max by (host) (redis_connected_slave_lag_seconds)", "{{host}} replica lag (s)"),
    ("max by (host) (redis_master_last_io_seconds_ago)", "{{host}} since last primary I/O (s)"),
], 0, y, w=12, unit="s")
ts("Redis persistence", [
    ("min by (host) (redis_aof_last_write_status)", "{{host}} AOF write ok"),
    ("min by (host) (redis_rdb_last_bgsave_status)", "{{host}} RDB save ok"),
], 12, y, w=12)
y += 8

row("RabbitMQ cluster", y); y += 1
stat("Broker nodes up", "count(rabbitmq_identity_info) or vector(0)", 0, y, thresholds=RED_IF_ZERO)
stat("Resource alarms", "sum(rabbitmq_alarms_memory_used_watermark + rabbitmq_alarms_free_disk_space_watermark) or vector(0)", 4, y,
     thresholds=RED_IF_ANY)
stat("Connections", "sum(rabbitmq_connections)", 8, y)
stat("Consumers", "sum(rabbitmq_consumers)", 12, y)
stat("Queues", "max(rabbitmq_queues)", 16, y)
stat("Messages in the streams", "sum(rabbitmq_queue_messages_ready)", 20, y)
y += 4
ts("Broker memory", [
    ("max by (host) (rabbitmq_process_resident_memory_bytes)", "{{host}} used"),
    ("max by (host) (rabbitmq_resident_memory_limit_bytes)", "{{host}} alarm at"),
], 0, y, unit="bytes")
ts("Broker disk free", [
    ("max by (host) (rabbitmq_disk_space_available_bytes)", "{{host}} free"),
    ("max by (host) (rabbitmq_disk_space_available_limit_bytes)", "{{host}} alarm at"),
], 8, y, unit="bytes", description="Streams keep their segments on disk; the retention policy (max-age, max-length-bytes) bounds them.")
ts("Connections and queues per node", [
    ("max by (host) (rabbitmq_connections)", "{{host}} connections"),
    ("max by (host) (rabbitmq_queues)", "{{host}} queues"),
], 16, y, description="rabbitmq_queues as each node reports it: with queue_leader_locator=balanced, the streams' leaders spread over the nodes. "
                      "A node that goes down disappears from both series.")
y += 8

row("Machines", y); y += 1
ts("CPU busy per VM", [
    ('1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle"}[1m]))', "{{host}}"),
], 0, y, unit="percentunit")
ts("Memory used per VM", [
    ("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{host}}"),
], 8, y, unit="percentunit")
ts("Network received per VM", [
    ('sum by (host) (rate(node_network_receive_bytes_total{device!="lo"}[1m]))', "{{host}}"),
], 16, y, unit="Bps")
y += 8

dashboard = {
    "uid": "tributary",
    "title": "Tributary",
    "tags": ["tributary"],
    "timezone": "utc",
    "schemaVersion": 39,
    "version": 1,
    "editable": True,
    "refresh": "10s",
    "time": {"from": "now-30m", "to": "now"},
    "templating": {"list": []},
    "annotations": {"list": []},
    "panels": panels,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards", "tributary.json")
with open(out, "w") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
print(f"wrote {out}: {len(panels)} panels")
