#!/usr/bin/env bash
# Checks deploy/: `systemd-analyze verify` on every unit (any warning fails), `bash -n` and shellcheck on the
# shell scripts. Installs systemd / numactl / shellcheck with apt when missing and running as root.
# Usage: tools/deploy-check/verify-units.sh [units-dir]   (default deploy/systemd)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
units_dir="${1:-${repo_root}/deploy/systemd}"
[[ -d "${units_dir}" ]] || { echo "verify-units: ${units_dir} is not a directory" >&2; exit 2; }
scripts=("${repo_root}/deploy/install.sh" "${repo_root}/tools/deploy-check/verify-units.sh")
failures=0
apt_updated=0

say() { printf 'verify-units: %s\n' "$*"; }
fail() { printf 'verify-units: FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }

# Installs a Debian package when its command is missing (root only); returns 1 if still missing.
ensure_command() {
  local command_name="$1" package="$2"
  if command -v "${command_name}" >/dev/null 2>&1; then return 0; fi
  if [[ "$(id -u)" -ne 0 ]]; then
    say "${command_name} is missing; install it with: sudo apt-get install -y ${package}"
    return 1
  fi
  say "installing ${package} (for ${command_name})"
  if ! apt-get install -y "${package}" >/dev/null 2>&1; then
    if [[ "${apt_updated}" -eq 0 ]]; then
      apt_updated=1
      apt-get update >/dev/null
    fi
    apt-get install -y "${package}" >/dev/null
  fi
  command -v "${command_name}" >/dev/null 2>&1
}

# --- systemd units -------------------------------------------------------------------------------------
if ! ensure_command systemd-analyze systemd; then
  fail "systemd-analyze is not available, units not verified"
else
  # ExecStart= must name an existing executable for verify to pass; the units use the real Debian paths.
  ensure_command node nodejs || fail "/usr/bin/node is missing (the units start /usr/bin/node)"
  ensure_command numactl numactl || fail "/usr/bin/numactl is missing (the inference template starts through numactl)"
  for binary in /usr/bin/node /usr/bin/numactl; do
    [[ -x "${binary}" ]] || fail "${binary} does not exist; the units expect it there (Debian's path)"
  done

  work_dir="$(mktemp -d)"
  trap 'rm -rf "${work_dir}"' EXIT
  cp "${units_dir}"/*.service "${units_dir}"/*.target "${work_dir}/"
  to_verify=()
  for unit in "${work_dir}"/*; do
    name="$(basename "${unit}")"
    if [[ "${name}" == *@.service ]]; then
      # A template is verified through concrete instances (two, to catch %i mistakes that only show at >0).
      for instance in 0 7; do
        cp "${unit}" "${work_dir}/${name/@./@${instance}.}"
        to_verify+=("${work_dir}/${name/@./@${instance}.}")
      done
    else
      to_verify+=("${unit}")
    fi
  done
  for unit in "${to_verify[@]}"; do
    # verify exits 0 on parse warnings (unknown key, bad value): any output at all is a failure here.
    if output="$(systemd-analyze verify --man=no "${unit}" 2>&1)" && [[ -z "${output}" ]]; then
      say "ok   systemd-analyze verify $(basename "${unit}")"
    else
      fail "systemd-analyze verify $(basename "${unit}"):"
      printf '%s\n' "${output}" >&2
    fi
  done
fi

# --- shell scripts -------------------------------------------------------------------------------------
have_shellcheck=1
ensure_command shellcheck shellcheck || have_shellcheck=0
for script in "${scripts[@]}"; do
  name="${script#"${repo_root}"/}"
  if [[ ! -f "${script}" ]]; then
    fail "${name} is missing"
    continue
  fi
  if bash -n "${script}"; then say "ok   bash -n ${name}"; else fail "bash -n ${name}"; fi
  if [[ "${have_shellcheck}" -eq 1 ]]; then
    if shellcheck "${script}"; then say "ok   shellcheck ${name}"; else fail "shellcheck ${name}"; fi
  else
    fail "shellcheck is not installed, ${name} not checked"
  fi
done

if [[ "${failures}" -gt 0 ]]; then
  say "${failures} problem(s)"
  exit 1
fi
say "all units and scripts verified"
