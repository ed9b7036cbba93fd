#!/usr/bin/env bash
# Idempotent bare-metal install of SOVREN on Debian: packages, the sovren user, /data/sovren, the built tree,
# /etc/sovren/sovren.env, NATS users and permissions, the PostgreSQL role and database, systemd units (one inference
# worker per GPU).
# Run as root from a built checkout: sudo deploy/install.sh [--prefix /opt/sovren] [--dry-run]. Never touches
# the firewall.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/install.sh [--prefix DIR] [--source DIR] [--dry-run] [--help]
  --prefix DIR   where the application tree is installed (default /opt/sovren)
  --source DIR   the built checkout to install from (default: this script's repository)
  --dry-run      print every action without changing anything (needs no root)
Build first (npm ci && npx nx run-many -t build), then run as root. Safe to run again for upgrades.
EOF
}

prefix=/opt/sovren
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dry_run=0
data_root=/data/sovren
etc_dir=/etc/sovren
env_file="${etc_dir}/sovren.env"
nats_credentials_dir="${etc_dir}/nats"
nats_config=/etc/nats-server.conf
unit_dir=/etc/systemd/system
services=(auth billing voice monitoring)

while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) [[ $# -ge 2 ]] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --source) [[ $# -ge 2 ]] || { echo "install.sh: --source needs a directory" >&2; exit 2; }; source_dir="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "${prefix}" == /* ]] || { echo "install.sh: --prefix must be an absolute path, got '${prefix}'" >&2; exit 2; }

step() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
# Runs a command, or only shows it in --dry-run mode.
run() {
  if [[ "${dry_run}" -eq 1 ]]; then
    printf '   [dry-run] %s\n' "$*"
  else
    printf '   + %s\n' "$*"
    "$@"
  fi
}
# Writes stdin to a file (mode, owner), or shows what would be written in --dry-run mode.
write_file() {
  local path="$1" mode="$2" owner="$3" content
  content="$(cat)"
  if [[ "${dry_run}" -eq 1 ]]; then
    printf '   [dry-run] write %s (mode %s, owner %s)\n' "${path}" "${mode}" "${owner}"
    return 0
  fi
  printf '   + write %s\n' "${path}"
  local tmp
  tmp="$(mktemp "${path}.XXXXXX")"
  printf '%s\n' "${content}" >"${tmp}"
  chmod "${mode}" "${tmp}"
  chown "${owner}" "${tmp}"
  mv -f "${tmp}" "${path}"
}
have_systemd() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; }
generate_secret() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40; }

if [[ "${dry_run}" -eq 0 && "$(id -u)" -ne 0 ]]; then
  echo "install.sh: must run as root (or use --dry-run to see the actions)" >&2
  exit 1
fi

step "checking the built tree in ${source_dir}"
missing_builds=()
for app in "${services[@]}" inference; do
  [[ -f "${source_dir}/dist/apps/${app}/main.js" ]] || missing_builds+=("dist/apps/${app}/main.js")
done
if [[ ${#missing_builds[@]} -gt 0 ]]; then
  if [[ "${dry_run}" -eq 1 ]]; then
    note "warning: not built yet (${missing_builds[*]}); a real install would stop here"
  else
    echo "install.sh: ${source_dir} is not built: missing ${missing_builds[*]}. Run: npm ci && npx nx run-many -t build" >&2
    exit 1
  fi
fi
[[ -d "${source_dir}/node_modules" || "${dry_run}" -eq 1 ]] || {
  echo "install.sh: ${source_dir}/node_modules is missing (the apps load their dependencies from it). Run: npm ci" >&2
  exit 1
}

step "Debian packages"
packages=(postgresql nats-server numactl rsync openssl)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
to_install=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "${package}" 2>/dev/null | grep -q 'install ok installed' || to_install+=("${package}")
done
if [[ ${#to_install[@]} -eq 0 ]]; then
  note "already installed: ${packages[*]}"
else
  run apt-get update
  run apt-get install -y "${to_install[@]}"
fi

step "sovren system user"
if getent passwd sovren >/dev/null; then
  note "user sovren exists"
else
  run useradd --system --user-group --home-dir "${data_root}" --no-create-home --shell /usr/sbin/nologin sovren
fi

step "data directories under ${data_root}"
for dir in "${data_root}" "${data_root}/models" "${data_root}/models/llms" "${data_root}/models/whisper" \
  "${data_root}/models/tts" "${data_root}/data" "${data_root}/logs"; do
  run install -d -o sovren -g sovren -m 0750 "${dir}"
done

step "application tree -> ${prefix}"
run install -d -o root -g root -m 0755 "${prefix}"
for item in dist node_modules migrations deploy tools/nats package.json package-lock.json; do
  if [[ -e "${source_dir}/${item}" ]]; then
    if [[ -d "${source_dir}/${item}" ]]; then
      # --delete makes an upgrade leave no stale files behind; the tree stays root-owned and read-only to sovren.
      [[ "${item}" != */* ]] || run install -d -o root -g root -m 0755 "$(dirname "${prefix}/${item}")"
      run rsync -a --delete --chown=root:root "${source_dir}/${item}/" "${prefix}/${item}/"
    else
      run install -o root -g root -m 0644 "${source_dir}/${item}" "${prefix}/${item}"
    fi
  else
    note "skipping ${item} (not in ${source_dir})"
  fi
done

step "configuration in ${etc_dir}"
run install -d -o root -g sovren -m 0750 "${etc_dir}"
if [[ -f "${env_file}" ]]; then
  note "${env_file} exists, left unchanged"
else
  db_password="$(generate_secret)"
  sed -e "s|__GENERATED_DB_PASSWORD__|${db_password}|g" \
    -e "s|^SOVREN_ROOT=.*|SOVREN_ROOT=${data_root}|" \
    "${source_dir}/deploy/env/sovren.env.example" | write_file "${env_file}" 0640 root:sovren
fi

step "NATS users and permissions -> ${nats_config}, ${nats_credentials_dir}/<service>.env"
# One NATS user per service with only the subjects it needs (tools/nats/nats-permissions.mjs). Credentials files
# (random passwords, root-only 0600, read by systemd's EnvironmentFile=) are kept on re-runs; the server
# configuration is regenerated, so an upgrade brings the new permission table.
run install -d -o root -g root -m 0700 "${nats_credentials_dir}"
# No --store-dir: the drop-in below passes -sd /var/lib/nats/jetstream (nats-server refuses both).
generate_nats=(node "${prefix}/tools/nats/generate-nats-config.mjs" --config "${nats_config}"
  --credentials-dir "${nats_credentials_dir}" --host 127.0.0.1 --port 4222)
run "${generate_nats[@]}"
# Debian's nats-server runs as user nats: the configuration (it holds the passwords) is readable by it alone.
if getent passwd nats >/dev/null || [[ "${dry_run}" -eq 1 ]]; then run chown nats:nats "${nats_config}"; fi

step "the sovren CLI: ${data_root}/nats-credentials/cli.env and /usr/local/bin/sovren"
# The operator's CLI talks to NATS as user cli, which may only send the admin requests (users, API keys, models,
# status). Its password is readable by root and the sovren user alone: that is the CLI's access right (docs/cli.md).
run install -d -o sovren -g sovren -m 0700 "${data_root}/nats-credentials"
run install -o sovren -g sovren -m 0600 "${nats_credentials_dir}/cli.env" "${data_root}/nats-credentials/cli.env"
# shellcheck disable=SC2016 # ${SOVREN_ROOT:-...} is expanded by the wrapper when it runs, not here.
printf '#!/bin/sh\n# Installed by deploy/install.sh: the sovren CLI (docs/cli.md).\nSOVREN_ROOT="${SOVREN_ROOT:-%s}" exec node %s "$@"\n' \
  "${data_root}" "${prefix}/dist/tools/cli/main.js" | write_file /usr/local/bin/sovren 0755 root:root

step "NATS with JetStream (Debian's nats-server unit + a drop-in)"
run install -d -m 0755 "${unit_dir}/nats-server.service.d"
sed -e '/^#/d' "${source_dir}/deploy/systemd/nats-server.service.d/sovren-jetstream.conf" \
  | write_file "${unit_dir}/nats-server.service.d/sovren-jetstream.conf" 0644 root:root

step "systemd units"
for unit in "${source_dir}"/deploy/systemd/*.service "${source_dir}"/deploy/systemd/*.target; do
  sed -e "s|/opt/sovren|${prefix}|g" "${unit}" | write_file "${unit_dir}/$(basename "${unit}")" 0644 root:root
done
write_file /etc/logrotate.d/sovren 0644 root:root <"${source_dir}/deploy/logrotate/sovren"

step "inference workers (one per GPU)"
gpu_count=0
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu_count="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
fi
note "GPUs found: ${gpu_count}"
instances=()
if [[ "${gpu_count}" -eq 0 ]]; then
  # No GPU: one worker on the engine's CPU path.
  instances=(0)
else
  mapfile -t bus_ids < <(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader 2>/dev/null || true)
  for ((index = 0; index < gpu_count; index++)); do instances+=("${index}"); done
fi
for index in "${instances[@]}"; do
  gpu_env="${etc_dir}/inference-gpu${index}.env"
  if [[ -f "${gpu_env}" ]]; then
    note "${gpu_env} exists, left unchanged"
  else
    numa_node=0
    bus_id="${bus_ids[${index}]:-}"
    if [[ -n "${bus_id}" ]]; then
      # nvidia-smi prints 00000000:3B:00.0; sysfs names the device 0000:3b:00.0.
      sysfs_id="$(printf '%s' "${bus_id: -12}" | tr '[:upper:]' '[:lower:]')"
      node_file="/sys/bus/pci/devices/${sysfs_id}/numa_node"
      if [[ -r "${node_file}" ]] && [[ "$(cat "${node_file}")" -ge 0 ]]; then numa_node="$(cat "${node_file}")"; fi
    fi
    write_file "${gpu_env}" 0640 root:sovren <<EOF
# Inference worker ${index}: pinning and port for sovren-inference@${index}.service (written by install.sh).
SOVREN_NUMA_NODE=${numa_node}
SOVREN_INFERENCE_PORT=$((3104 + 100 * index))
EOF
  fi
done

step "PostgreSQL role and database"
if have_systemd || [[ "${dry_run}" -eq 1 ]]; then run systemctl enable --now postgresql.service; fi
if [[ "${dry_run}" -eq 1 ]]; then
  note "[dry-run] create role sovren (password from ${env_file}) and database sovren owned by it, if absent"
else
  db_url="$(grep -E '^SOVREN_DATABASE_URL=' "${env_file}" | tail -n 1 | cut -d= -f2-)"
  db_password="$(printf '%s' "${db_url}" | sed -n -E 's|^postgres(ql)?://[^:/@]+:([^@]*)@.*$|\2|p')"
  [[ -n "${db_password}" ]] || { echo "install.sh: SOVREN_DATABASE_URL in ${env_file} carries no password" >&2; exit 1; }
  psql_as_postgres() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }
  if [[ "$(psql_as_postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'sovren'")" == 1 ]]; then
    note "role sovren exists"
  else
    note "+ CREATE ROLE sovren"
    psql_as_postgres -c 'CREATE ROLE sovren LOGIN'
  fi
  # Keeps the role's password equal to the one in sovren.env; psql interpolates :'pw' only from stdin.
  printf '%s\n' "ALTER ROLE sovren WITH LOGIN PASSWORD :'pw';" | psql_as_postgres -v pw="${db_password}"
  if [[ "$(psql_as_postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'sovren'")" == 1 ]]; then
    note "database sovren exists"
  else
    note "+ CREATE DATABASE sovren OWNER sovren"
    psql_as_postgres -c 'CREATE DATABASE sovren OWNER sovren'
  fi
fi

step "enabling units"
if have_systemd || [[ "${dry_run}" -eq 1 ]]; then
  run systemctl daemon-reload
  run systemctl enable nats-server.service
  run systemctl restart nats-server.service
  run systemctl enable sovren.target "${services[@]/#/sovren-}"
  for index in "${instances[@]}"; do run systemctl enable "sovren-inference@${index}.service"; done
else
  note "systemd is not running here: units installed but not enabled (run systemctl daemon-reload && systemctl enable sovren.target later)"
fi

step "done"
note "start:   systemctl start sovren.target"
note "status:  systemctl list-dependencies sovren.target; curl http://127.0.0.1:3101/health/ready"
note "logs:    ${data_root}/logs/<service>.log (or: sovren logs <service>)"
note "first admin and key (as root or the sovren user): sovren admin create --email you@example.com; sovren keys create --user you@example.com --scopes inference:generate"

# ---------------------------------------------------------------------------------------------------------------
# Monitoring: Prometheus (Debian's package) and, when installed, Grafana. See "Monitoring" in deploy/README.md.
# Our Prometheus files live in /etc/prometheus/sovren/ (Debian's own /etc/prometheus/prometheus.yml is left alone);
# /etc/default/prometheus points the service at them and binds it to 127.0.0.1 only.
# ---------------------------------------------------------------------------------------------------------------
prom_dir=/etc/prometheus/sovren
step "Prometheus (Debian's prometheus package) -> ${prom_dir}"
if dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q 'install ok installed'; then
  note "prometheus already installed"
else
  run apt-get install -y prometheus
fi
run install -d -o root -g root -m 0755 "${prom_dir}" "${prom_dir}/rules" "${prom_dir}/targets"
run install -o root -g root -m 0644 "${source_dir}/deploy/prometheus/prometheus.yml" "${prom_dir}/prometheus.yml"
for rules in "${source_dir}"/deploy/prometheus/rules/*.yml; do
  run install -o root -g root -m 0644 "${rules}" "${prom_dir}/rules/$(basename "${rules}")"
done
run install -o root -g root -m 0755 "${source_dir}/deploy/prometheus/write-targets.sh" "${prom_dir}/write-targets.sh"
# file_sd targets: one per service unit (ports from sovren.env), one per inference GPU worker (its own env file).
inference_workers=()
for index in "${instances[@]}"; do
  worker_port=$((3104 + 100 * index))
  gpu_env="${etc_dir}/inference-gpu${index}.env"
  if [[ -r "${gpu_env}" ]]; then
    from_file="$(grep -E '^SOVREN_INFERENCE_PORT=[0-9]+$' "${gpu_env}" | tail -n 1 | cut -d= -f2)"
    [[ -n "${from_file}" ]] && worker_port="${from_file}"
  fi
  inference_workers+=("${index}:${worker_port}")
done
if [[ "${dry_run}" -eq 1 ]]; then
  note "[dry-run] ${prom_dir}/write-targets.sh ${prom_dir}/targets (workers: ${inference_workers[*]})"
else
  printf '   + write %s/targets/{services,inference-gpus}.json\n' "${prom_dir}"
  (
    set -a
    # shellcheck disable=SC1090
    [[ -r "${env_file}" ]] && . "${env_file}"
    set +a
    SOVREN_INFERENCE_WORKERS="${inference_workers[*]}" bash "${prom_dir}/write-targets.sh" "${prom_dir}/targets"
  )
fi
prom_args="--config.file=${prom_dir}/prometheus.yml --web.listen-address=127.0.0.1:9090"
if [[ "${dry_run}" -eq 1 ]]; then
  note "[dry-run] set ARGS=\"${prom_args}\" in /etc/default/prometheus"
elif [[ -f /etc/default/prometheus ]] && grep -q '^ARGS=' /etc/default/prometheus; then
  printf '   + set ARGS in /etc/default/prometheus\n'
  sed -i -E "s|^ARGS=.*|ARGS=\"${prom_args}\"|" /etc/default/prometheus
else
  printf 'ARGS="%s"\n' "${prom_args}" | write_file /etc/default/prometheus 0644 root:root
fi
if command -v promtool >/dev/null 2>&1 || [[ "${dry_run}" -eq 1 ]]; then
  run promtool check config "${prom_dir}/prometheus.yml"
fi
if have_systemd || [[ "${dry_run}" -eq 1 ]]; then
  run systemctl enable prometheus.service
  run systemctl restart prometheus.service
fi
note "Prometheus: http://127.0.0.1:9090/targets (every sovren target should be UP)"

step "Grafana dashboards (optional: Grafana is not packaged by Debian)"
if [[ -d /etc/grafana/provisioning ]]; then
  run install -d -o root -g root -m 0755 /etc/grafana/provisioning/datasources /etc/grafana/provisioning/dashboards /var/lib/grafana/dashboards/sovren
  run install -o root -g root -m 0644 "${source_dir}/deploy/grafana/provisioning/datasources.yml" /etc/grafana/provisioning/datasources/sovren.yml
  run install -o root -g root -m 0644 "${source_dir}/deploy/grafana/provisioning/dashboards.yml" /etc/grafana/provisioning/dashboards/sovren.yml
  for dashboard in "${source_dir}"/deploy/grafana/dashboards/*.json; do
    run install -o root -g root -m 0644 "${dashboard}" "/var/lib/grafana/dashboards/sovren/$(basename "${dashboard}")"
  done
  if have_systemd; then run systemctl restart grafana-server.service; fi
else
  note "Grafana not installed (/etc/grafana/provisioning missing): dashboards not placed; see deploy/README.md"
fi
