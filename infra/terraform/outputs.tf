output "control_public_ip" {
  description = "Public address of the control VM."
  value       = google_compute_instance.vm["${var.name}-control"].network_interface[0].access_config[0].nat_ip
}

output "api_url" {
  description = "Tributary's HTTP API (tributary serve), reachable from admin_cidr."
  value       = "http://${google_compute_instance.vm["${var.name}-control"].network_interface[0].access_config[0].nat_ip}:8080/"
}

output "grafana_url" {
  description = "Grafana, reachable from admin_cidr."
  value       = "http://${google_compute_instance.vm["${var.name}-control"].network_interface[0].access_config[0].nat_ip}:3000/"
}

output "prometheus_tunnel" {
  description = "Prometheus listens on the control VM only: open it through SSH."
  value       = "ssh -N -L 9090:localhost:9090 ${var.ssh_user}@${google_compute_instance.vm["${var.name}-control"].network_interface[0].access_config[0].nat_ip}"
}

output "vms" {
  description = "Every VM: its Ansible group, public and private address."
  value = {
    for name, vm in local.vms : name => {
      group      = vm.group
      public_ip  = google_compute_instance.vm[name].network_interface[0].access_config[0].nat_ip
      private_ip = google_compute_instance.vm[name].network_interface[0].network_ip
    }
  }
}

output "segment_store_url" {
  description = "Where the archiver writes the master data set (empty: the control VM's disk)."
  value       = var.segment_bucket ? "gs://${google_storage_bucket.segments[0].name}" : ""
}

output "ansible_inventory" {
  description = "The inventory written to ../ansible/inventory.ini."
  value       = local.inventory
}
