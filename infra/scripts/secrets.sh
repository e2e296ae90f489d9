#!/usr/bin/env bash
# make infra-secrets: creates, once, the ansible-vault file of the cluster's
# secrets (Redis and RabbitMQ passwords, Erlang cookie, Grafana's admin
# password, serve's admin token): infra/ansible/inventory/group_vars/all/vault.yml.
# Commit it (it is encrypted) so that every operator deploys with the same
# secrets; share the vault password out of band (a password manager). It is
# never regenerated: a second run, by anyone, leaves it as it is.
# The vault password file: $TRIBUTARY_VAULT_PASSWORD_FILE, default
# ~/.config/tributary/vault-password (made here, mode 0600, if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
vault="$root/infra/ansible/inventory/group_vars/all/vault.yml"
passfile=${TRIBUTARY_VAULT_PASSWORD_FILE:-$HOME/.config/tributary/vault-password}

if [ -e "$vault" ]; then
  echo "infra-secrets: $vault exists already: kept as it is (see it with"
  echo "  ansible-vault view --vault-password-file $passfile $vault)"
  head -1 "$vault" | grep -q '^\$ANSIBLE_VAULT;' || { echo "infra-secrets: $vault is NOT encrypted: encrypt it (ansible-vault encrypt) before committing" >&2; exit 1; }
  exit 0
fi
if [ ! -s "$passfile" ]; then
  mkdir -p "$(dirname "$passfile")"
  (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$passfile")
  echo "infra-secrets: new vault password in $passfile: give it to the other operators out of band"
fi
mkdir -p "$(dirname "$vault")"
# The secrets go straight from python to ansible-vault: never in plain text on disk.
python3 - <<'PY' | ansible-vault encrypt --vault-password-file "$passfile" --output "$vault" -
import secrets, string
alnum = string.ascii_letters + string.digits
def pw(n, chars=alnum):
    return "".join(secrets.choice(chars) for _ in range(n))
print("---")
print("# Tributary's secrets (make infra-secrets). Edit with ansible-vault edit.")
print(f"vault_redis_password: {pw(32)}")
print(f"vault_rabbitmq_password: {pw(32)}")
print(f"vault_rabbitmq_erlang_cookie: {pw(32, string.ascii_uppercase)}")
print(f"vault_grafana_admin_password: {pw(24)}")
print(f"vault_tributary_admin_token: {pw(40)}")
PY
echo "infra-secrets: wrote $vault (encrypted): commit it"
