#!/usr/bin/env bash
# make infra-check: every offline check of infra/, no cloud credentials, no
# network (Terraform's providers come from ../shared/tools/terraform-offline
# when the registry cannot be reached). Needs `make services` and `make build`
# for the smoke test (the Makefile target runs them first).
#   infra/scripts/check.sh            everything
#   INFRA_CHECK_SKIP_SMOKE=1 ...      all but the smoke test of the binary
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/tributary-infra-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
step() { printf '\n== infra-check: %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

# ------------------------------------------------------------ Terraform
step "terraform"
shared_tf="$root/../shared/tools/terraform-offline"
command -v terraform >/dev/null || { echo "infra-check: terraform is not installed (scripts/deps.sh installs it)" >&2; exit 1; }
tfmod="$work/terraform"
mkdir -p "$tfmod"
# A plan needs no state: check a copy without the GCS backend.
cp infra/terraform/*.tf infra/terraform/*.tftpl "$tfmod/" && cp -r infra/terraform/tests "$tfmod/"
rm "$tfmod/backend.tf"
if curl -sf --max-time 5 -o /dev/null https://registry.terraform.io/v1/providers/hashicorp/google/versions; then
  echo "terraform: providers from the registry"
  tf() { terraform "$@"; }
  tf -chdir="$tfmod" init -backend=false -input=false -no-color >/dev/null
elif [ -x "$shared_tf" ]; then
  echo "terraform: registry unreachable, providers from $shared_tf"
  tf() { "$shared_tf" "$@"; }
else
  echo "infra-check: the Terraform registry is unreachable and $shared_tf is missing" >&2
  exit 1
fi
export GOOGLE_OAUTH_ACCESS_TOKEN=offline-check-no-credentials
terraform fmt -check -recursive -diff infra/terraform
tf -chdir="$tfmod" validate -no-color >"$work/validate.log" 2>&1 || { cat "$work/validate.log"; exit 1; }
echo "terraform validate: ok"
plan=$(tf -chdir="$tfmod" plan -refresh=false -input=false -no-color -lock=false \
  -var project=offline-check -var admin_cidr=203.0.113.7/32 -var ssh_public_key_file=tests/id_test.pub)
grep -E '^Plan: ' <<<"$plan"
grep -qE '^Plan: [0-9]+ to add, 0 to change, 0 to destroy' <<<"$plan"
tf -chdir="$tfmod" test -no-color >"$work/test.log" 2>&1 || { cat "$work/test.log"; exit 1; }
grep -E '^(  run |Success)' "$work/test.log"

# ------------------------------------------------------------ Ansible
step "ansible: syntax, ansible-lint (production), yamllint"
(
  cd infra/ansible
  for pb in site.yml faults.yml render-check.yml; do
    ansible-playbook -i tests/cluster --syntax-check "$pb" >/dev/null
    echo "ansible-playbook --syntax-check $pb: ok"
  done
  ansible-lint --offline --profile production -q site.yml faults.yml render-check.yml roles
)
yamllint -s infra .yamllint
echo "yamllint: ok"

# ------------------------------------------------------------ monitoring
step "promtool, amtool"
(
  cd infra/monitoring
  promtool check config prometheus.yml >/dev/null
  promtool check rules alerts.yml config_rules.yml >/dev/null
  promtool test rules alerts_test.yml
  python3 check_alert_tests.py
  python3 check_metric_names.py
  amtool check-config alertmanager.yml >/dev/null
  n=0
  while read -r receiver labels; do
    case "$receiver" in '#'*|'') continue ;; esac
    # shellcheck disable=SC2086
    amtool config routes test --config.file=alertmanager.yml --verify.receivers="$receiver" $labels >/dev/null 2>&1 \
      || { echo "amtool: $labels is not routed to $receiver" >&2; exit 1; }
    n=$((n + 1))
  done < alertmanager_routes_test.txt
  echo "amtool: $n route tests passed"
)

# ------------------------------------------------------------ rendering
step "render the default deployment (tests/cluster) and check it"
mkdir -p "$work/placeholder/data"
printf '#!/bin/sh\nexit 0\n' > "$work/placeholder/tributary" && chmod +x "$work/placeholder/tributary"
: > "$work/placeholder/flights.parquet"
(
  cd infra/ansible
  # The hosts check_render.py reads (the others differ only by address).
  ansible-playbook -i tests/cluster render-check.yml \
    --limit 'tributary-broker-1,tributary-redis-2,tributary-control-1,tributary-control-2,tributary-monitor' \
    -e render_out="$work/render" -e tributary_binary="$work/placeholder/tributary" \
    -e tributary_data_dir="$root/infra/ansible/tests/data" -e tributary_dataset="$work/placeholder/flights.parquet" >"$work/render.log" \
    || { tail -50 "$work/render.log"; exit 1; }
  python3 tests/check_render.py "$work/render"
)

# ------------------------------------------------------------ smoke
if [ "${INFRA_CHECK_SKIP_SMOKE:-0}" = 1 ]; then
  step "smoke test SKIPPED (INFRA_CHECK_SKIP_SMOKE=1)"
else
  step "smoke test: the rendered units of the real binary"
  python3 infra/ansible/tests/smoke.py "$root"
fi
step "done"
