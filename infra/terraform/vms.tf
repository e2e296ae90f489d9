# The static VMs: bastion, 3 brokers, 2 Redis, 2 control, 1 monitor.

resource "google_compute_instance" "vm" {
  for_each = local.static_vms

  name         = each.key
  machine_type = each.value.machine_type
  zone         = var.zone
  tags         = ["${var.name}-${each.value.group}"]
  labels       = merge(var.labels, { role = each.value.group })

  allow_stopping_for_update = true

  boot_disk {
    initialize_params {
      image = var.image
      size  = each.value.disk_gb
      type  = var.disk_type
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.subnet.id
    # Only the bastion has a public address; the others go out through NAT.
    dynamic "access_config" {
      for_each = each.value.public ? [1] : []
      content {}
    }
  }

  metadata = {
    ssh-keys               = "${var.ssh_user}:${local.ssh_public_key}"
    enable-oslogin         = "FALSE"
    block-project-ssh-keys = "TRUE"
  }

  service_account {
    email  = local.sa[each.value.group]
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

  depends_on = [google_compute_router_nat.nat]
}
