#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (issue 20): builds with SOVREN_CUDA=ON, runs the native tests (the CUDA
# kernels against the CPU backend and the host emulation included, which must not skip), the model's device forward
# pass on the GPU against the CPU backend, the engine's backend Jest suite and the cuda bench, and prints a report. Sized for about 10 minutes on 16 cores. Usage: tools/gpu-check.sh [build-dir]   (default build/native)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/native}  # where the engine's Jest suites look for the addon
ADDON=OFF
[ -e node_modules/.bin/jest ] && command -v node >/dev/null && ADDON=ON
ARCH=${SOVREN_CUDA_ARCH:-native}  # the GPU in this machine only; the fat binary (80;90;100) is the default build's
LOG=${OUT:-/tmp}/gpu-check
mkdir -p "$LOG"
report=()
step() {  # step NAME COMMAND...: runs, logs, records PASS/FAIL with the seconds taken
  local name=$1 t0=$SECONDS
  shift
  if "$@" >"$LOG/$name.log" 2>&1; then report+=("PASS  $name ($((SECONDS - t0)) s)"); else
    report+=("FAIL  $name ($((SECONDS - t0)) s): see $LOG/$name.log")
    tail -n 40 "$LOG/$name.log"
  fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$LOG/gpu.txt" 2>&1 || true
step configure cmake -S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSOVREN_CUDA=ON -DSOVREN_ADDON="$ADDON" \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCH"
step build cmake --build "$BUILD" -j"$(nproc)"
kernels_ran() {  # the kernel test must run on the device, not skip
  "$BUILD/test-cuda-kernels" >"$LOG/cuda-kernels.out" 2>&1
  local rc=$?
  cat "$LOG/cuda-kernels.out"
  [ $rc -eq 0 ] && ! grep -q '^SKIP' "$LOG/cuda-kernels.out"
}
step cuda-kernels kernels_ran
# The device forward pass (paged KV cache, batches, fork / copy_prefix, pool exhaustion) on the GPU vs the CPU.
# SOVREN_DEVICE_SYNC=1: a kernel fault is reported under the op (and layer) that caused it.
step device-forward env SOVREN_TEST_DEVICE=cuda SOVREN_DEVICE_SYNC=1 "$BUILD/test-device-forward"
step native-tests ctest --test-dir "$BUILD" --output-on-failure -j4
if [ "$ADDON" = ON ]; then
  step engine-backend-jest env SOVREN_ENGINE_BACKEND=cuda npx jest -c libs/engine/jest.config.ts \
    --testPathPatterns engine-backend
  step bench-cuda env TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
    tools/bench/engine/bench-engine.ts --backend cuda --types F16,Q8_0,Q4_K --layers 4 --reps 3 --bin-dir "$BUILD"
else
  report+=("SKIP  engine-backend-jest, bench-cuda: no node_modules on this machine")
fi

echo
echo "== gpu-check report =="
echo "GPU: $(cat "$LOG/gpu.txt")"
grep -E '^(FAIL|SKIP)|passed, .* failed' "$LOG/cuda-kernels.log" 2>/dev/null | sed 's/^/  kernels: /'
grep -E '^(FAIL|SKIP)|max relative L2|passed, .* failed' "$LOG/device-forward.log" 2>/dev/null | sed 's/^/  forward: /'
[ -f "$LOG/bench-cuda.log" ] && tail -n 20 "$LOG/bench-cuda.log" | sed 's/^/  bench: /'
printf '%s\n' "${report[@]}"
! printf '%s\n' "${report[@]}" | grep -q '^FAIL'
