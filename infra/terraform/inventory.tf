# The Ansible inventory, written to ../ansible/inventory/hosts. Workers of
# the managed instance groups have no address Terraform knows: Ansible
# reaches them by their internal DNS name, which the bastion resolves
# (ProxyJump), and they find their own address from their facts.

locals {
  groups_order = ["bastion", "broker", "redis", "control", "monitor", "speed", "batch"]

  inventory_groups = merge(
    {
      for g in ["bastion", "broker", "redis", "control", "monitor"] : g => [
        for vm in local.static_list : {
          name       = vm.name
          host       = vm.public ? google_compute_instance.vm[vm.name].network_interface[0].access_config[0].nat_ip : google_compute_instance.vm[vm.name].network_interface[0].network_ip
          private_ip = google_compute_instance.vm[vm.name].network_interface[0].network_ip
        } if vm.group == g
      ]
    },
    {
      for kind in ["speed", "batch"] : kind => [
        for n in local.workers[kind] : {
          name       = n
          host       = "${n}.${var.zone}.c.${var.project}.internal"
          private_ip = ""
        }
      ]
    },
  )

  inventory = templatefile("${path.module}/inventory.ini.tftpl", {
    groups_order         = local.groups_order
    groups               = local.inventory_groups
    ssh_user             = var.ssh_user
    ssh_private_key_file = pathexpand(var.ssh_private_key_file)
    bastion_ip           = google_compute_instance.vm["${var.name}-bastion"].network_interface[0].access_config[0].nat_ip
    segment_store_url    = "gs://${google_storage_bucket.segments.name}"
    api_address          = google_compute_address.api.address
  })
}

resource "local_file" "inventory" {
  filename        = "${path.module}/../ansible/inventory/hosts"
  content         = local.inventory
  file_permission = "0644"
}
