#!/usr/bin/env bash
# Installs what Tributary needs on Debian/Ubuntu, only what is missing.
# Idempotent: a second run installs nothing.
set -euo pipefail

need=()
need_terraform=0
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

have redis-server || need+=(redis-server)
have rabbitmq-server || [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
have npm || need+=(npm)
have curl || need+=(curl)
# make cluster: Sentinels and the load balancer in front of the servers;
# the internal/redisconn tests start Sentinels too.
have redis-sentinel || need+=(redis-sentinel)
have haproxy || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# make chaos's speed-broker-cut: a network namespace (ip netns) bridged to the
# host's loopback ports by socat.
have socat || need+=(socat)
have ip || [ -x /usr/sbin/ip ] || need+=(iproute2)
# The live page's test runs it in headless Chromium.
have chromium || need+=(chromium)
# The README's external-client example runs in a test with Debian's pika.
pkg_installed python3-pika || need+=(python3-pika)
# make infra-check (infra/scripts/check.sh): Ansible and its linters, promtool
# and amtool, and what the smoke test runs (HAProxy, redis_exporter). A group
# of its own; skip it with TRIBUTARY_DEPS_INFRA=0.
if [ "${TRIBUTARY_DEPS_INFRA:-1}" != 0 ]; then
  for p in ansible ansible-lint yamllint prometheus prometheus-alertmanager haproxy prometheus-redis-exporter python3-yaml; do
    pkg_installed "$p" || need+=("$p")
  done
  # Terraform is not in Debian: HashiCorp's apt repository (below).
  if ! have terraform; then
    need_terraform=1
    have gpg || need+=(gnupg)
  fi
fi
# make notebooks: the evaluation notebooks run with Debian's Jupyter, pandas
# and matplotlib (/usr/bin/python3).
for p in jupyter-nbconvert python3-nbformat python3-ipykernel python3-matplotlib python3-pandas; do
  pkg_installed "$p" || need+=("$p")
done
# Benchmarks and the browser test; cheap to skip with TRIBUTARY_DEPS_MINIMAL=1.
if [ "${TRIBUTARY_DEPS_MINIMAL:-0}" != 1 ]; then
  for p in ${TRIBUTARY_EXTRA_PKGS:-}; do pkg_installed "$p" || need+=("$p"); done
fi

if [ ${#need[@]} -eq 0 ] && [ "$need_terraform" = 0 ]; then
  echo "deps: everything present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${need[*]}"
$SUDO apt-get update -qq
# The Debian packages start system-wide services; Tributary never uses them, and
# policy-rc.d keeps them from starting at install time so that nothing system-wide is disturbed.
export DEBIAN_FRONTEND=noninteractive
[ ${#need[@]} -eq 0 ] || $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"

# Terraform from HashiCorp's apt repository, as HashiCorp documents it
# (developer.hashicorp.com/terraform/install). Its providers are not needed:
# make infra-check uses ../shared/tools/terraform-offline when the registry
# cannot be reached.
if [ "$need_terraform" = 1 ]; then
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  curl -fsSL https://apt.releases.hashicorp.com/gpg | $SUDO gpg --batch --yes --dearmor -o /usr/share/keyrings/hashicorp-archive-keyring.gpg
  echo "deb [signed-by=/usr/share/keyrings/hashicorp-archive-keyring.gpg] https://apt.releases.hashicorp.com $codename main" \
    | $SUDO tee /etc/apt/sources.list.d/hashicorp.list >/dev/null
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends terraform
fi
