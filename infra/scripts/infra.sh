#!/usr/bin/env bash
# make infra / make infra-destroy / make infra-scale.
#   infra/scripts/infra.sh up             init (GCS backend), plan, apply, inventory, playbooks, addresses
#   infra/scripts/infra.sh destroy        drain the workers, then terraform destroy
#   infra/scripts/infra.sh scale KIND N   KIND speed or batch: N workers (drains the removed ones first)
# Settings (environment): TRIBUTARY_TF_STATE_BUCKET (the GCS bucket of the
# Terraform state, infra/README.md), TRIBUTARY_VAULT_PASSWORD_FILE (default
# ~/.config/tributary/vault-password), TF_VARS (extra terraform arguments).
# infra/terraform/terraform.tfvars holds project, admin_cidr, size.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tfdir="$root/infra/terraform"
ansdir="$root/infra/ansible"
export ANSIBLE_VAULT_PASSWORD_FILE=${TRIBUTARY_VAULT_PASSWORD_FILE:-$HOME/.config/tributary/vault-password}
export ANSIBLE_CONFIG="$ansdir/ansible.cfg"
tf() { terraform -chdir="$tfdir" "$@"; }

init() {
  : "${TRIBUTARY_TF_STATE_BUCKET:?set TRIBUTARY_TF_STATE_BUCKET to the GCS bucket of the Terraform state (infra/README.md)}"
  [ -f "$tfdir/terraform.tfvars" ] || { echo "infra: copy infra/terraform/terraform.tfvars.example to terraform.tfvars and edit it" >&2; exit 1; }
  [ -s "$ANSIBLE_VAULT_PASSWORD_FILE" ] && [ -f "$ansdir/inventory/group_vars/all/vault.yml" ] \
    || { echo "infra: no secrets: run make infra-secrets (or get the vault password file from another operator)" >&2; exit 1; }
  tf init -input=false -backend-config="bucket=$TRIBUTARY_TF_STATE_BUCKET" >/dev/null
}

playbooks() { # [--limit HOSTS]
  (cd "$ansdir" && ansible all "${@}" -m ansible.builtin.wait_for_connection -a timeout=300 >/dev/null \
    && ansible-playbook site.yml "$@")
}

# Workers of KIND, in numeric order, from Terraform's state.
workers() { tf output -json vm_names | python3 -c "import json,sys; print(' '.join(json.load(sys.stdin)['$1']))"; }

# Stop the services of these workers (SIGTERM: a speed worker flushes and
# hands its partitions over, an asynq worker returns its tasks), before the
# VMs are deleted.
drain() { # HOST...
  [ $# -gt 0 ] || return 0
  local hosts; hosts=$(IFS=,; echo "$*")
  echo "infra: draining $hosts"
  (cd "$ansdir" && ansible "$hosts" -b -m ansible.builtin.systemd -a 'name=tributary@speed state=stopped' || true
   cd "$ansdir" && ansible "$hosts" -b -m ansible.builtin.systemd -a 'name=tributary@worker state=stopped' || true)
}

summary() {
  echo
  echo "API:        $(tf output -raw api_url)"
  echo "bastion:    ssh $(tf output -raw bastion_ip)"
  echo "Grafana:    $(tf output -raw tunnel)   then http://localhost:3000/"
  tf output -json cost | python3 -c 'import json,sys; c=json.load(sys.stdin); print(f"cost:       {c[\"size\"]}, {c[\"vms\"]} VMs, ${c[\"total_per_hour\"]:.3f}/h, ${c[\"total_per_month\"]:.0f}/month (list prices, see infra/README.md)")'
}

case "${1:-}" in
  up)
    init
    # shellcheck disable=SC2086
    tf plan -input=false -out=tributary.tfplan ${TF_VARS:-}
    # Workers this plan deletes (a smaller count in terraform.tfvars): drain them first.
    # shellcheck disable=SC2046
    drain $(tf show -json tributary.tfplan | python3 -c '
import json, sys
for rc in json.load(sys.stdin).get("resource_changes", []):
    if rc["type"] == "google_compute_per_instance_config" and "delete" in rc["change"]["actions"]:
        print(rc["change"]["before"]["name"])')
    tf apply -input=false tributary.tfplan
    rm -f "$tfdir/tributary.tfplan"
    playbooks
    summary
    ;;
  destroy)
    init
    # shellcheck disable=SC2046
    drain $(workers speed) $(workers batch)
    # shellcheck disable=SC2086
    tf destroy -input=false ${TF_VARS:-}
    ;;
  scale)
    kind=${2:?usage: infra.sh scale speed|batch N}; n=${3:?usage: infra.sh scale speed|batch N}
    case "$kind" in speed|batch) ;; *) echo "infra: KIND is speed or batch" >&2; exit 2 ;; esac
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "infra: N must be a whole number" >&2; exit 2; }
    init
    read -r -a current <<<"$(workers "$kind")"
    # The count lives in scale.auto.tfvars.json (git-ignored): the next make infra keeps it.
    python3 - "$tfdir/scale.auto.tfvars.json" "${kind}_workers" "$n" <<'PY'
import json, os, sys
path, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(path)) if os.path.exists(path) else {}
d[key] = n
json.dump(d, open(path, "w"), indent=2)
PY
    if [ "$n" -lt "${#current[@]}" ]; then
      drain "${current[@]:$n}"
    fi
    # shellcheck disable=SC2086
    tf apply -input=false -auto-approve ${TF_VARS:-}
    if [ "$n" -gt "${#current[@]}" ]; then
      read -r -a now <<<"$(workers "$kind")"
      new=$(IFS=,; echo "${now[*]:${#current[@]}}")
      playbooks --limit "$new,monitor"
    else
      (cd "$ansdir" && ansible-playbook site.yml --limit monitor --tags monitoring)
    fi
    echo "infra: $kind workers: ${#current[@]} -> $n"
    ;;
  *)
    echo "usage: infra.sh up | destroy | scale speed|batch N" >&2
    exit 2
    ;;
esac
