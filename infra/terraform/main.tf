# Tributary's small cluster: one VPC and subnet, firewall rules, a service
# account with minimal scopes, a bucket for the master data set, and the VMs:
# broker (RabbitMQ), redis, control (scheduler, serve, archive, replay and the
# monitoring stack) and worker_count workers (speed + asynq workers).

locals {
  tag = var.name

  # One entry per VM: the Ansible group it lands in and its machine type.
  # Workers are keyed by number so that scaling from N to M adds or removes
  # only the VMs above min(N, M).
  vms = merge(
    {
      "${var.name}-broker"  = { group = "broker", machine_type = var.broker_machine_type }
      "${var.name}-redis"   = { group = "redis", machine_type = var.redis_machine_type }
      "${var.name}-control" = { group = "control", machine_type = var.control_machine_type }
    },
    { for i in range(1, var.worker_count + 1) :
      "${var.name}-worker-${i}" => { group = "workers", machine_type = var.worker_machine_type }
    },
  )

  ssh_public_key = trimspace(file(pathexpand(var.ssh_public_key_file)))

  scopes = var.segment_bucket ? [
    "https://www.googleapis.com/auth/devstorage.read_write",
    ] : [
    "https://www.googleapis.com/auth/userinfo.email",
  ]
}

resource "google_project_service" "compute" {
  service            = "compute.googleapis.com"
  disable_on_destroy = false
}

resource "google_project_service" "storage" {
  count              = var.segment_bucket ? 1 : 0
  service            = "storage.googleapis.com"
  disable_on_destroy = false
}

# ---------------------------------------------------------------- network

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

# Every VM talks to every other on the private range: AMQP 5672, Redis 6379,
# the roles' /metrics ports, node_exporter 9100, RabbitMQ's Prometheus 15692,
# Erlang distribution, the scheduler's HTTP API.
resource "google_compute_firewall" "internal" {
  name          = "${var.name}-allow-internal"
  network       = google_compute_network.vpc.name
  direction     = "INGRESS"
  source_ranges = [var.subnet_cidr]

  allow {
    protocol = "tcp"
  }
  allow {
    protocol = "udp"
  }
  allow {
    protocol = "icmp"
  }
}

resource "google_compute_firewall" "ssh" {
  name          = "${var.name}-allow-ssh-admin"
  network       = google_compute_network.vpc.name
  direction     = "INGRESS"
  source_ranges = [var.admin_cidr]
  target_tags   = [local.tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

# The HTTP API (tributary serve, 8080) and Grafana (3000) on the control VM.
# Prometheus (9090), Alertmanager (9093) and the scheduler (8090) are reached
# through an SSH tunnel only.
resource "google_compute_firewall" "web" {
  name          = "${var.name}-allow-web-admin"
  network       = google_compute_network.vpc.name
  direction     = "INGRESS"
  source_ranges = [var.admin_cidr]
  target_tags   = ["${local.tag}-control"]

  allow {
    protocol = "tcp"
    ports    = ["8080", "3000"]
  }
}

# ---------------------------------------------------------------- identity

# The VMs' identity. It has no project-wide role; when segment_bucket is on it
# may read and write objects of that one bucket, and nothing else.
resource "google_service_account" "vm" {
  account_id   = "${var.name}-vm"
  display_name = "Tributary VMs"
}

resource "google_storage_bucket" "segments" {
  count                       = var.segment_bucket ? 1 : 0
  name                        = "${var.project}-${var.name}-segments"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.storage]
}

resource "google_storage_bucket_iam_member" "segments_vm" {
  count  = var.segment_bucket ? 1 : 0
  bucket = google_storage_bucket.segments[0].name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.vm.email}"
}

# ---------------------------------------------------------------- VMs

resource "google_compute_instance" "vm" {
  for_each = local.vms

  name         = each.key
  machine_type = each.value.machine_type
  zone         = var.zone
  tags         = [local.tag, "${local.tag}-${each.value.group}"]
  labels       = merge(var.labels, { role = each.value.group })

  allow_stopping_for_update = true

  boot_disk {
    initialize_params {
      image = var.image
      size  = var.disk_size_gb
      type  = var.disk_type
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.subnet.id
    # An ephemeral public address: Ansible connects through it (SSH from
    # admin_cidr only) and the VMs reach Debian's mirrors without Cloud NAT.
    access_config {}
  }

  metadata = {
    ssh-keys       = "${var.ssh_user}:${local.ssh_public_key}"
    enable-oslogin = "FALSE"
  }

  service_account {
    email  = google_service_account.vm.email
    scopes = local.scopes
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  scheduling {
    automatic_restart   = true
    on_host_maintenance = "MIGRATE"
  }
}

# ---------------------------------------------------------------- Ansible

locals {
  hosts_by_group = {
    for g in ["broker", "redis", "control", "workers"] : g => [
      for name, vm in local.vms : {
        name       = name
        public_ip  = google_compute_instance.vm[name].network_interface[0].access_config[0].nat_ip
        private_ip = google_compute_instance.vm[name].network_interface[0].network_ip
      } if vm.group == g
    ]
  }

  inventory = templatefile("${path.module}/inventory.ini.tftpl", {
    groups               = local.hosts_by_group
    ssh_user             = var.ssh_user
    ssh_private_key_file = pathexpand(var.ssh_private_key_file)
    segment_store_url    = var.segment_bucket ? "gs://${google_storage_bucket.segments[0].name}" : ""
  })
}

resource "local_file" "inventory" {
  filename        = "${path.module}/../ansible/inventory.ini"
  content         = local.inventory
  file_permission = "0644"
}
