# One VPC and subnet; no VM has a public address but the bastion. The others
# reach Debian's mirrors through Cloud NAT. Firewall rules are per role, by
# service account (a tag can be set by anyone who may edit an instance; the
# service account of a VM cannot be changed while it runs).

resource "google_project_service" "compute" {
  service            = "compute.googleapis.com"
  disable_on_destroy = false
}

resource "google_project_service" "storage" {
  service            = "storage.googleapis.com"
  disable_on_destroy = false
}

resource "google_compute_network" "vpc" {
  name                    = "${var.name}-vpc"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.compute]
}

resource "google_compute_subnetwork" "subnet" {
  name                     = "${var.name}-subnet"
  ip_cidr_range            = var.subnet_cidr
  region                   = var.region
  network                  = google_compute_network.vpc.id
  private_ip_google_access = true
}

resource "google_compute_router" "router" {
  name    = "${var.name}-router"
  region  = var.region
  network = google_compute_network.vpc.id
}

resource "google_compute_router_nat" "nat" {
  name                               = "${var.name}-nat"
  router                             = google_compute_router.router.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
}

locals {
  sa = { for r in local.roles : r => google_service_account.role[r].email }

  # Google's health checkers (network load balancer with a target pool).
  health_check_ranges = ["35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"]

  # One rule per flow: who (source roles) reaches whom (target roles) on
  # which TCP ports. Anything not listed is refused inside the subnet too.
  flows = {
    bastion-ssh = { from = ["bastion"], to = ["broker", "redis", "control", "monitor", "speed", "batch"], ports = ["22"] }
    # SSH tunnels through the bastion to Grafana, Prometheus, Alertmanager.
    monitoring-ui = { from = ["bastion"], to = ["monitor"], ports = ["3000", "9090", "9093"] }
    # serve reads stream ends, replay publishes, archive and speed consume.
    amqp = { from = ["control", "speed"], to = ["broker"], ports = ["5672"] }
    # epmd, Erlang distribution, CLI tools, stream replication.
    rabbitmq-cluster = { from = ["broker"], to = ["broker"], ports = ["4369", "5672", "25672", "35672-35682", "6000-6500"] }
    redis            = { from = ["control", "speed", "batch", "redis", "monitor"], to = ["redis"], ports = ["6379", "26379"] }
    # The third Sentinel runs on the monitoring VM.
    sentinel = { from = ["control", "speed", "batch", "redis", "monitor"], to = ["monitor"], ports = ["26379"] }
    # HAProxy to the other VM's serve; serve and the batch timer to the schedulers.
    control = { from = ["control"], to = ["control"], ports = ["8080", "8090"] }
    # Prometheus scrapes every role's /metrics, node_exporter (9110),
    # redis_exporter (9121), rabbitmq_prometheus (15692), HAProxy (8404).
    metrics = { from = ["monitor"], to = ["bastion", "broker", "redis", "control", "speed", "batch"], ports = ["8080", "8090", "8404", "9100-9103", "9110", "9121", "15692"] }
  }
}

resource "google_compute_firewall" "flow" {
  for_each = local.flows

  name                    = "${var.name}-allow-${each.key}"
  network                 = google_compute_network.vpc.name
  direction               = "INGRESS"
  source_service_accounts = [for r in each.value.from : local.sa[r]]
  target_service_accounts = [for r in each.value.to : local.sa[r]]

  allow {
    protocol = "tcp"
    ports    = each.value.ports
  }
}

resource "google_compute_firewall" "admin_ssh" {
  name                    = "${var.name}-allow-admin-ssh"
  network                 = google_compute_network.vpc.name
  direction               = "INGRESS"
  source_ranges           = [var.admin_cidr]
  target_service_accounts = [local.sa.bastion]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

# The API through the load balancer (a passthrough network LB keeps the
# client's address: the rule sees the real source) and Google's health checks.
resource "google_compute_firewall" "api" {
  name                    = "${var.name}-allow-api"
  network                 = google_compute_network.vpc.name
  direction               = "INGRESS"
  source_ranges           = concat(length(var.api_cidrs) > 0 ? var.api_cidrs : [var.admin_cidr], local.health_check_ranges)
  target_service_accounts = [local.sa.control]

  allow {
    protocol = "tcp"
    ports    = ["80"]
  }
}
