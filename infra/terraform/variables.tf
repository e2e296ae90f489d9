variable "project" {
  description = "GCP project ID to deploy into."
  type        = string
}

variable "region" {
  description = "GCP region. The cost section of infra/README.md uses us-central1 prices."
  type        = string
  default     = "us-central1"
}

variable "zone" {
  description = "GCP zone, inside var.region."
  type        = string
  default     = "us-central1-a"
}

variable "name" {
  description = "Prefix of every resource name (lower case letters, digits, dashes)."
  type        = string
  default     = "tributary"

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,20}$", var.name))
    error_message = "name must start with a letter and hold at most 21 lower-case letters, digits or dashes."
  }
}

variable "subnet_cidr" {
  description = "Private range of the cluster's subnet."
  type        = string
  default     = "10.20.0.0/24"
}

variable "admin_cidr" {
  description = "The only range allowed to reach SSH (22), the HTTP API (8080) and Grafana (3000). Set it to your own address, e.g. 203.0.113.7/32."
  type        = string

  validation {
    condition     = can(cidrhost(var.admin_cidr, 0)) && var.admin_cidr != "0.0.0.0/0"
    error_message = "admin_cidr must be a CIDR range, and not 0.0.0.0/0."
  }
}

variable "worker_count" {
  description = "Number of speed/batch worker VMs (each runs `tributary speed` and `tributary worker`). Change it and re-run terraform apply then ansible-playbook to scale."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_count >= 0 && var.worker_count <= 16
    error_message = "worker_count must be between 0 and 16 (the default partition count P is 8: more speed workers than P sit idle)."
  }
}

variable "broker_machine_type" {
  description = "Machine type of the RabbitMQ VM."
  type        = string
  default     = "e2-medium"
}

variable "redis_machine_type" {
  description = "Machine type of the Redis VM."
  type        = string
  default     = "e2-small"
}

variable "worker_machine_type" {
  description = "Machine type of each worker VM."
  type        = string
  default     = "e2-small"
}

variable "control_machine_type" {
  description = "Machine type of the control VM (scheduler, serve, archive, replay, Prometheus, Alertmanager, Grafana)."
  type        = string
  default     = "e2-medium"
}

variable "image" {
  description = "Boot image of every VM. The Ansible roles target Debian 12 (its redis-server, rabbitmq-server and prometheus packages)."
  type        = string
  default     = "debian-cloud/debian-12"
}

variable "disk_size_gb" {
  description = "Boot disk size of every VM, in GB."
  type        = number
  default     = 20
}

variable "disk_type" {
  description = "Boot disk type (pd-balanced, pd-standard, pd-ssd)."
  type        = string
  default     = "pd-balanced"
}

variable "ssh_user" {
  description = "User created on the VMs for Ansible (through the ssh-keys instance metadata)."
  type        = string
  default     = "ansible"
}

variable "ssh_public_key_file" {
  description = "Public key installed for var.ssh_user on every VM."
  type        = string
  default     = "~/.ssh/id_ed25519.pub"
}

variable "ssh_private_key_file" {
  description = "Matching private key, written into the Ansible inventory."
  type        = string
  default     = "~/.ssh/id_ed25519"
}

variable "segment_bucket" {
  description = "Create a GCS bucket for the master data set's Parquet segments (the archiver writes them, batch workers on other VMs read them through gs://). Set to false to keep segments on the control VM's disk (then run the batch workers there only)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels put on every VM (useful to break the bill down)."
  type        = map(string)
  default = {
    app = "tributary"
  }
}
