locals {
  # Sizes of the cluster. Counts of the static roles do not change with the
  # size: they are what removes every single point of failure (3 RabbitMQ
  # nodes, Redis primary + replica with 3 Sentinels, 2 control VMs).
  sizes = {
    small = {
      broker = "e2-small", redis = "e2-small", control = "e2-small", monitor = "e2-small"
      speed  = "e2-small", batch = "e2-small", speed_workers = 2, batch_workers = 1, broker_disk_gb = 20
    }
    medium = {
      broker = "e2-medium", redis = "e2-small", control = "e2-medium", monitor = "e2-medium"
      speed  = "e2-small", batch = "e2-medium", speed_workers = 2, batch_workers = 2, broker_disk_gb = 30
    }
    large = {
      broker = "e2-standard-2", redis = "e2-standard-2", control = "e2-standard-2", monitor = "e2-medium"
      speed  = "e2-standard-2", batch = "e2-standard-4", speed_workers = 4, batch_workers = 4, broker_disk_gb = 50
    }
  }
  size          = local.sizes[var.size]
  speed_workers = coalesce(var.speed_workers, local.size.speed_workers)
  batch_workers = coalesce(var.batch_workers, local.size.batch_workers)

  # The static VMs, in the order of the inventory: numbered roles are listed
  # 1, 2, ... 10 (never 1, 10, 2).
  static_roles = [
    { group = "bastion", count = 1, machine_type = "e2-micro", disk_gb = 10, public = true },
    { group = "broker", count = 3, machine_type = local.size.broker, disk_gb = local.size.broker_disk_gb, public = false },
    { group = "redis", count = 2, machine_type = local.size.redis, disk_gb = var.disk_size_gb, public = false },
    { group = "control", count = 2, machine_type = local.size.control, disk_gb = var.disk_size_gb, public = false },
    { group = "monitor", count = 1, machine_type = local.size.monitor, disk_gb = var.disk_size_gb, public = false },
  ]
  static_list = flatten([
    for r in local.static_roles : [
      for i in range(1, r.count + 1) : {
        name         = r.count == 1 ? "${var.name}-${r.group}" : "${var.name}-${r.group}-${i}"
        group        = r.group
        machine_type = r.machine_type
        disk_gb      = r.disk_gb
        public       = r.public
      }
    ]
  ])
  static_vms = { for vm in local.static_list : vm.name => vm }

  # Workers of the managed instance groups, named NAME-speed-1..N: the
  # per-instance configs keep these names, so that scaling down removes the
  # highest numbers (infra/scripts/scale.sh drains them first).
  workers = {
    speed = [for i in range(1, local.speed_workers + 1) : "${var.name}-speed-${i}"]
    batch = [for i in range(1, local.batch_workers + 1) : "${var.name}-batch-${i}"]
  }

  roles = ["bastion", "broker", "redis", "control", "monitor", "speed", "batch"]

  ssh_public_key = trimspace(file(pathexpand(var.ssh_public_key_file)))

  # ------------------------------------------------------------ prices
  # On-demand list prices, us-central1, USD, from Google Cloud's price pages
  # (VM instance pricing, disk pricing, VPC network pricing, Cloud NAT
  # pricing) as of 2024. NOT verified online: the machines this repository is
  # developed on cannot reach cloud.google.com. Check them against the
  # pricing pages or the calculator before quoting a figure (infra/README.md).
  prices_as_of = "us-central1 on-demand list prices from Google Cloud price pages as of 2024, NOT verified online (infra/README.md, Cost)"
  price_per_hour = {
    "e2-micro"      = 0.008376
    "e2-small"      = 0.016751
    "e2-medium"     = 0.033503
    "e2-standard-2" = 0.067006
    "e2-standard-4" = 0.134012
  }
  price_disk_gb_month      = 0.10  # pd-balanced
  price_ipv4_hour          = 0.005 # an external IPv4 address in use
  price_forwarding_rule_hr = 0.025 # one of the first 5 forwarding rules
  price_nat_vm_hour        = 0.0014
  hours_per_month          = 730

  vm_types = concat(
    [for vm in local.static_list : vm.machine_type],
    [for n in local.workers.speed : local.size.speed],
    [for n in local.workers.batch : local.size.batch],
  )
  disk_gb = sum(concat(
    [for vm in local.static_list : vm.disk_gb],
    [for n in concat(local.workers.speed, local.workers.batch) : var.disk_size_gb],
  ))
  cost_hour = {
    vms    = sum([for t in local.vm_types : local.price_per_hour[t]])
    disks  = local.disk_gb * local.price_disk_gb_month / local.hours_per_month
    ipv4   = 2 * local.price_ipv4_hour # the bastion's and the load balancer's
    lb     = local.price_forwarding_rule_hr
    nat    = (length(local.vm_types) - 1) * local.price_nat_vm_hour # every VM but the bastion goes out through Cloud NAT
    per_vm = { speed = local.price_per_hour[local.size.speed] + (var.disk_size_gb * local.price_disk_gb_month / local.hours_per_month) + local.price_nat_vm_hour, batch = local.price_per_hour[local.size.batch] + (var.disk_size_gb * local.price_disk_gb_month / local.hours_per_month) + local.price_nat_vm_hour }
  }
  cost_total_hour = local.cost_hour.vms + local.cost_hour.disks + local.cost_hour.ipv4 + local.cost_hour.lb + local.cost_hour.nat
}
