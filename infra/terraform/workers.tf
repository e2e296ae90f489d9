# Elastic workers: one instance template and one managed instance group per
# kind (speed, batch). Per-instance configs name the instances NAME-KIND-1..N,
# so the inventory lists them in numeric order and scaling from N to M adds or
# removes only the instances above min(N, M). Scale with infra/scripts/scale.sh
# (or `make infra` with a new count after draining): it stops the services of
# the instances about to go (SIGTERM: a speed worker flushes and releases its
# leases, an asynq worker hands its tasks back) before Terraform deletes them.

resource "google_compute_instance_template" "worker" {
  for_each = toset(["speed", "batch"])

  name_prefix  = "${var.name}-${each.key}-"
  machine_type = local.size[each.key]
  tags         = ["${var.name}-${each.key}"]
  labels       = merge(var.labels, { role = each.key })

  disk {
    source_image = var.image
    disk_size_gb = var.disk_size_gb
    disk_type    = var.disk_type
    boot         = true
    auto_delete  = true
  }

  network_interface {
    subnetwork = google_compute_subnetwork.subnet.id
  }

  metadata = {
    ssh-keys               = "${var.ssh_user}:${local.ssh_public_key}"
    enable-oslogin         = "FALSE"
    block-project-ssh-keys = "TRUE"
  }

  service_account {
    email  = local.sa[each.key]
    scopes = ["cloud-platform"]
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

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_instance_group_manager" "worker" {
  for_each = toset(["speed", "batch"])

  name               = "${var.name}-${each.key}"
  base_instance_name = "${var.name}-${each.key}"
  zone               = var.zone
  target_size        = length(local.workers[each.key])

  version {
    instance_template = google_compute_instance_template.worker[each.key].self_link_unique
  }

  # A new template (machine type...) is rolled out by replacing instances one
  # at a time, never all at once; the replacement keeps its name.
  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    replacement_method    = "RECREATE"
    max_surge_fixed       = 0
    max_unavailable_fixed = 1
  }

  wait_for_instances = false

  depends_on = [google_compute_router_nat.nat]
}

resource "google_compute_per_instance_config" "worker" {
  for_each = { for n in concat(
    [for name in local.workers.speed : { kind = "speed", name = name }],
    [for name in local.workers.batch : { kind = "batch", name = name }],
  ) : n.name => n }

  zone                             = var.zone
  instance_group_manager           = google_compute_instance_group_manager.worker[each.value.kind].name
  name                             = each.key
  remove_instance_on_destroy       = true
  remove_instance_state_on_destroy = true

  preserved_state {
    metadata = {
      tributary-role = each.value.kind
    }
  }
}
