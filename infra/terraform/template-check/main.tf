# Renders ../inventory.ini.tftpl with made-up addresses, with no provider and no
# cloud access (the grouping logic is a copy of main.tf's locals):
#   terraform init && terraform apply -auto-approve -var worker_count=3
# It creates nothing.
variable "worker_count" { default = 2 }
locals {
  name = "tributary"
  vms = merge(
    {
      "${local.name}-broker"  = { group = "broker", machine_type = "e2-medium" }
      "${local.name}-redis"   = { group = "redis", machine_type = "e2-small" }
      "${local.name}-control" = { group = "control", machine_type = "e2-medium" }
    },
    { for i in range(1, var.worker_count + 1) :
      "${local.name}-worker-${i}" => { group = "workers", machine_type = "e2-small" }
    },
  )
  fake_ip = { for i, n in sort(keys(local.vms)) : n => { pub = "203.0.113.${i + 10}", priv = "10.20.0.${i + 2}" } }
  hosts_by_group = {
    for g in ["broker", "redis", "control", "workers"] : g => [
      for name, vm in local.vms : {
        name       = name
        public_ip  = local.fake_ip[name].pub
        private_ip = local.fake_ip[name].priv
      } if vm.group == g
    ]
  }
}
output "inventory" {
  value = templatefile("${path.module}/../inventory.ini.tftpl", {
    groups               = local.hosts_by_group, ssh_user = "ansible",
    ssh_private_key_file = pathexpand("~/.ssh/id_ed25519"), segment_store_url = "gs://p-tributary-segments"
  })
}
