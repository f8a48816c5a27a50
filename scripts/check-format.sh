#!/usr/bin/env bash
# Fails, naming the files, if a C++ file of the repository differs from what clang-format (the
# repository's .clang-format: Google style, 100 columns) makes of it. Fix with:
#   git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed" >&2; exit 1; }
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h')
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: not formatted with clang-format (.clang-format): ${bad[*]}" >&2
  exit 1
fi
echo "check-format: every C++ file is formatted"
