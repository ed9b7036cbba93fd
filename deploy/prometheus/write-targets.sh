#!/usr/bin/env bash
# Writes Prometheus file_sd target files for SOVREN into DIR: one target per service unit and one per inference
# GPU worker. Reads SOVREN_HOST and SOVREN_{AUTH,BILLING,VOICE,MONITORING}_PORT from the environment (install.sh
# loads /etc/sovren/sovren.env first) and SOVREN_INFERENCE_WORKERS, a space-separated list of `gpu:port`.
# Usage: write-targets.sh DIR
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: write-targets.sh DIR" >&2; exit 2; }
dir="$1"
host="${SOVREN_HOST:-127.0.0.1}"
# A wildcard bind address is not something to scrape: Prometheus runs on the same host.
[[ "${host}" == "0.0.0.0" || "${host}" == "::" ]] && host=127.0.0.1
mkdir -p "${dir}"

entry() { printf '  {"targets": ["%s:%s"], "labels": {"unit": "%s"%s}}' "${host}" "$2" "$1" "${3:-}"; }

{
  echo '['
  first=1
  for service in auth billing voice monitoring; do
    var="SOVREN_${service^^}_PORT"
    case "${service}" in auth) def=3101 ;; billing) def=3102 ;; voice) def=3103 ;; monitoring) def=3105 ;; esac
    port="${!var:-${def}}"
    [[ "${port}" =~ ^[0-9]+$ ]] || { echo "write-targets.sh: ${var} must be a port number, got '${port}'" >&2; exit 1; }
    [[ ${first} -eq 1 ]] || echo ','
    entry "sovren-${service}.service" "${port}"
    first=0
  done
  echo
  echo ']'
} >"${dir}/services.json.tmp"
mv -f "${dir}/services.json.tmp" "${dir}/services.json"

{
  echo '['
  first=1
  for worker in ${SOVREN_INFERENCE_WORKERS:-}; do
    gpu="${worker%%:*}"
    port="${worker##*:}"
    [[ "${gpu}" =~ ^[0-9]+$ && "${port}" =~ ^[0-9]+$ ]] || { echo "write-targets.sh: bad inference worker '${worker}' (want gpu:port)" >&2; exit 1; }
    [[ ${first} -eq 1 ]] || echo ','
    entry "sovren-inference@${gpu}.service" "${port}" ", \"gpu\": \"${gpu}\""
    first=0
  done
  echo
  echo ']'
} >"${dir}/inference-gpus.json.tmp"
mv -f "${dir}/inference-gpus.json.tmp" "${dir}/inference-gpus.json"
