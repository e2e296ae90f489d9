output "bastion_ip" {
  description = "Public address of the bastion, the only VM with one (SSH from admin_cidr)."
  value       = google_compute_instance.vm["${var.name}-bastion"].network_interface[0].access_config[0].nat_ip
}

output "api_url" {
  description = "Tributary's HTTP API behind the load balancer (HAProxy on both control VMs, then serve)."
  value       = "http://${google_compute_address.api.address}/"
}

output "tunnel" {
  description = "Grafana (3000), Prometheus (9090) and Alertmanager (9093) on the monitoring VM, through the bastion."
  value       = "ssh -N -L 3000:${google_compute_instance.vm["${var.name}-monitor"].network_interface[0].network_ip}:3000 -L 9090:${google_compute_instance.vm["${var.name}-monitor"].network_interface[0].network_ip}:9090 -L 9093:${google_compute_instance.vm["${var.name}-monitor"].network_interface[0].network_ip}:9093 ${var.ssh_user}@${google_compute_instance.vm["${var.name}-bastion"].network_interface[0].access_config[0].nat_ip}"
}

output "vm_names" {
  description = "Every VM by inventory group, numbered ones in numeric order."
  value       = { for g in local.groups_order : g => [for h in local.inventory_groups[g] : h.name] }
}

output "segment_store_url" {
  description = "Where the archivers write the master data set and the batch workers read it."
  value       = "gs://${google_storage_bucket.segments.name}"
}

output "service_accounts" {
  description = "The service account of each role."
  value       = local.sa
}

output "cost" {
  description = "Estimated on-demand cost of this size in USD (list prices in locals.tf, with their date and source in infra/README.md). Egress and the bucket's few MB are left out."
  value = {
    size            = var.size
    vms             = length(local.vm_types)
    hourly          = { for k, v in local.cost_hour : k => v if k != "per_vm" }
    total_per_hour  = local.cost_total_hour
    total_per_month = local.cost_total_hour * local.hours_per_month
    per_worker_hour = local.cost_hour.per_vm
    prices          = local.prices_as_of
  }
}

output "ansible_inventory" {
  description = "The inventory written to ../ansible/inventory/hosts."
  value       = local.inventory
}
