# `terraform test` (make infra-check): the inventory, the names and the cost
# outputs of the default deployment and of each size, with mocked providers:
# nothing is created, no credentials are needed.

mock_provider "google" {
  mock_resource "google_compute_instance" {
    defaults = {
      network_interface = { network_ip = "10.20.0.9", access_config = { nat_ip = "198.51.100.7" } }
    }
  }
  mock_resource "google_compute_address" {
    defaults = { address = "198.51.100.80" }
  }
  mock_resource "google_service_account" {
    defaults = { email = "sa@demo.iam.gserviceaccount.com" }
  }
}

mock_provider "local" {}

variables {
  project             = "demo"
  admin_cidr          = "203.0.113.7/32"
  ssh_public_key_file = "tests/id_test.pub"
}

run "default_deployment" {
  command = apply

  assert {
    condition = output.vm_names == {
      bastion = ["tributary-bastion"]
      broker  = ["tributary-broker-1", "tributary-broker-2", "tributary-broker-3"]
      redis   = ["tributary-redis-1", "tributary-redis-2"]
      control = ["tributary-control-1", "tributary-control-2"]
      monitor = ["tributary-monitor"]
      speed   = ["tributary-speed-1", "tributary-speed-2"]
      batch   = ["tributary-batch-1", "tributary-batch-2"]
    }
    error_message = "unexpected VM names: ${jsonencode(output.vm_names)}"
  }

  # Only the bastion has a public address; workers are reached by DNS name.
  assert {
    condition     = strcontains(output.ansible_inventory, "[bastion]\ntributary-bastion ansible_host=198.51.100.7 private_ip=10.20.0.9\n")
    error_message = "the bastion's inventory line is wrong"
  }
  assert {
    condition     = strcontains(output.ansible_inventory, "[speed]\ntributary-speed-1 ansible_host=tributary-speed-1.us-central1-a.c.demo.internal\ntributary-speed-2 ansible_host=tributary-speed-2.us-central1-a.c.demo.internal\n")
    error_message = "the speed workers' inventory lines are wrong"
  }
  assert {
    condition     = strcontains(output.ansible_inventory, "ProxyJump=ansible@198.51.100.7") && strcontains(output.ansible_inventory, "api_address=198.51.100.80")
    error_message = "the inventory does not go through the bastion or lacks the API address"
  }
  assert {
    condition     = length(google_compute_instance.vm["tributary-bastion"].network_interface[0].access_config) == 1 && alltrue([for n, vm in google_compute_instance.vm : length(vm.network_interface[0].access_config) == 0 if n != "tributary-bastion"])
    error_message = "a VM other than the bastion has a public address"
  }
  assert {
    condition     = length(google_service_account.role) == 7 && google_compute_instance.vm["tributary-broker-2"].service_account[0].email == google_service_account.role["broker"].email
    error_message = "each role must have its own service account"
  }
  assert {
    condition     = local_file.inventory.filename == "./../ansible/inventory/hosts"
    error_message = "inventory written to ${local_file.inventory.filename}"
  }

  # Prices by hand (locals.tf): VMs e2-micro + 3+1+2 e2-medium + 2+2 e2-small + 2 e2-medium (batch)
  # = 0.343404; 280 GB of disk at 0.10/GB-month = 0.0383562/h; 2 IPv4 0.01; forwarding rule 0.025;
  # NAT for 12 VMs 0.0168. Total 0.4335602/h.
  assert {
    condition     = abs(output.cost.total_per_hour - 0.4335602) < 0.00001 && abs(output.cost.total_per_month - 316.499) < 0.01
    error_message = "medium costs ${output.cost.total_per_hour}/h, ${output.cost.total_per_month}/month"
  }
  assert {
    condition     = output.cost.vms == 13 && abs(output.cost.hourly.vms - 0.343404) < 0.000001
    error_message = "medium: ${output.cost.vms} VMs, ${output.cost.hourly.vms}/h"
  }
}

run "workers_listed_in_numeric_order" {
  command = apply
  variables {
    speed_workers = 11
    batch_workers = 0
  }

  assert {
    condition     = output.vm_names.speed[8] == "tributary-speed-9" && output.vm_names.speed[9] == "tributary-speed-10" && output.vm_names.speed[10] == "tributary-speed-11"
    error_message = "speed workers out of numeric order: ${jsonencode(output.vm_names.speed)}"
  }
  assert {
    condition     = strcontains(output.ansible_inventory, "tributary-speed-9 ansible_host=tributary-speed-9.us-central1-a.c.demo.internal\ntributary-speed-10 ansible_host=")
    error_message = "the inventory does not list speed-10 right after speed-9"
  }
  assert {
    condition     = google_compute_instance_group_manager.worker["speed"].target_size == 11 && google_compute_instance_group_manager.worker["batch"].target_size == 0 && length(google_compute_per_instance_config.worker) == 11
    error_message = "the groups' sizes do not follow the counts"
  }
}

run "small_size_cost" {
  command = plan
  variables {
    size = "small"
  }
  # 12 VMs: 0.192637 + 230 GB disk 0.0315068 + 0.01 + 0.025 + NAT 11 x 0.0014.
  assert {
    condition     = abs(output.cost.total_per_hour - 0.2745438) < 0.00001 && output.cost.vms == 12
    error_message = "small costs ${output.cost.total_per_hour}/h for ${output.cost.vms} VMs"
  }
}

run "large_size_cost" {
  command = plan
  variables {
    size = "large"
  }
  # 17 VMs: 1.314993 + 420 GB disk 0.0575342 + 0.01 + 0.025 + NAT 16 x 0.0014.
  assert {
    condition     = abs(output.cost.total_per_hour - 1.4299272) < 0.00001 && output.cost.vms == 17
    error_message = "large costs ${output.cost.total_per_hour}/h for ${output.cost.vms} VMs"
  }
}

run "admin_cidr_must_be_narrower_than_slash_8" {
  command = plan
  variables {
    admin_cidr = "0.0.0.0/1"
  }
  expect_failures = [var.admin_cidr]
}

run "admin_cidr_slash_8_refused" {
  command = plan
  variables {
    admin_cidr = "10.0.0.0/8"
  }
  expect_failures = [var.admin_cidr]
}

run "admin_cidr_must_be_a_cidr" {
  command = plan
  variables {
    admin_cidr = "203.0.113.7"
  }
  expect_failures = [var.admin_cidr]
}
