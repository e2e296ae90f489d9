# The API's entry point: a regional passthrough network load balancer (one
# public address) over both control VMs, each running HAProxy on port 80 in
# front of both `tributary serve` replicas. Losing a control VM, or serve on
# one of them, leaves the API up.

resource "google_compute_address" "api" {
  name   = "${var.name}-api"
  region = var.region
}

# HAProxy answers /haproxy-health with 200 while it has a live serve backend.
resource "google_compute_http_health_check" "api" {
  name                = "${var.name}-api"
  port                = 80
  request_path        = "/haproxy-health"
  check_interval_sec  = 5
  timeout_sec         = 3
  healthy_threshold   = 2
  unhealthy_threshold = 2
}

resource "google_compute_target_pool" "api" {
  name          = "${var.name}-api"
  region        = var.region
  instances     = [for n, vm in local.static_vms : "${var.zone}/${n}" if vm.group == "control"]
  health_checks = [google_compute_http_health_check.api.name]

  depends_on = [google_compute_instance.vm]
}

resource "google_compute_forwarding_rule" "api" {
  name                  = "${var.name}-api"
  region                = var.region
  ip_address            = google_compute_address.api.address
  ip_protocol           = "TCP"
  port_range            = "80"
  load_balancing_scheme = "EXTERNAL"
  target                = google_compute_target_pool.api.self_link
}
