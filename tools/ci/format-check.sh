#!/usr/bin/env bash
# Fails when a file is not formatted as the formatters would write it: Prettier for TypeScript, JavaScript, JSON
# and YAML (.prettierrc, .prettierignore), clang-format for the native engine (native/.clang-format).
# Fix with: npx prettier --write . && git ls-files 'native/*.cpp' 'native/*.h' 'native/*.cu' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== format check: prettier"
npx prettier --check --log-level warn .

echo "== format check: clang-format ($(clang-format --version | head -1))"
mapfile -t native_files < <(git ls-files -co --exclude-standard -- 'native/*.cpp' 'native/*.h' 'native/*.cu' 'native/*.cuh')
clang-format --dry-run --Werror "${native_files[@]}"
echo "== format check: ${#native_files[@]} native files and the Prettier files are formatted"
