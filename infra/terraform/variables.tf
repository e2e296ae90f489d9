variable "project" {
  description = "GCP project ID to deploy into."
  type        = string
}

variable "region" {
  description = "GCP region. The prices in locals.tf (and infra/README.md) are us-central1's."
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
    condition     = can(regex("^[a-z][-a-z0-9]{0,14}$", var.name))
    error_message = "name must start with a letter and hold at most 15 lower-case letters, digits or dashes (service account ids are name-ROLE and at most 30 characters)."
  }
}

variable "size" {
  description = "Preset of machine types and worker counts: small, medium or large (see local.sizes and the cost table of infra/README.md)."
  type        = string
  default     = "medium"

  validation {
    condition     = contains(["small", "medium", "large"], var.size)
    error_message = "size must be small, medium or large."
  }
}

variable "speed_workers" {
  description = "Speed worker VMs (managed instance group NAME-speed); null: the size's count. More than tributary_partitions (8) sit idle."
  type        = number
  default     = null
  nullable    = true

  validation {
    condition     = var.speed_workers == null ? true : (var.speed_workers >= 0 && var.speed_workers <= 64 && floor(var.speed_workers) == var.speed_workers)
    error_message = "speed_workers must be a whole number between 0 and 64."
  }
}

variable "batch_workers" {
  description = "Batch (asynq) worker VMs (managed instance group NAME-batch); null: the size's count."
  type        = number
  default     = null
  nullable    = true

  validation {
    condition     = var.batch_workers == null ? true : (var.batch_workers >= 0 && var.batch_workers <= 64 && floor(var.batch_workers) == var.batch_workers)
    error_message = "batch_workers must be a whole number between 0 and 64."
  }
}

variable "subnet_cidr" {
  description = "Private range of the cluster's subnet."
  type        = string
  default     = "10.20.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be a CIDR range."
  }
}

variable "admin_cidr" {
  description = "The only range allowed to reach the bastion's SSH (and, unless api_cidrs is set, the API's load balancer). Your own address, e.g. 203.0.113.7/32."
  type        = string

  validation {
    # A real IPv4 CIDR narrower than /8: 0.0.0.0/1 or 10.0.0.0/8 are "everyone" in practice.
    condition = (
      can(regex("^([0-9]{1,3}\\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$", var.admin_cidr))
      && can(cidrhost(var.admin_cidr, 0))
      && try(tonumber(split("/", var.admin_cidr)[1]) > 8, false)
    )
    error_message = "admin_cidr must be an IPv4 CIDR range narrower than /8 (prefix length 9 to 32), e.g. 203.0.113.7/32."
  }
}

variable "api_cidrs" {
  description = "Ranges allowed to reach the API through the load balancer (port 80). Empty: admin_cidr only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.api_cidrs : can(cidrhost(c, 0))])
    error_message = "every api_cidrs entry must be a CIDR range."
  }
}

variable "image" {
  description = "Boot image of every VM. The Ansible roles target Debian 12 (its redis, rabbitmq-server and prometheus packages)."
  type        = string
  default     = "debian-cloud/debian-12"
}

variable "disk_size_gb" {
  description = "Boot disk size of every VM but the brokers (local.sizes sets theirs: streams keep their segments on disk) and the bastion (10 GB), in GB."
  type        = number
  default     = 20
}

variable "disk_type" {
  description = "Boot disk type. The cost outputs price pd-balanced."
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

variable "labels" {
  description = "Labels put on every VM (to break the bill down)."
  type        = map(string)
  default = {
    app = "tributary"
  }
}
