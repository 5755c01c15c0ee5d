#!/usr/bin/env bash
# Times `berth config` against `docker-compose config` (Debian's docker-compose, v1.29) on the
# largest file of the conformance corpus, side by side in one hyperfine run, several runs each.
# Usage: bench/config.sh [RUNS]   (default 30). Installs docker-compose and hyperfine with apt
# when missing. Prints hyperfine's table and the median ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
corpus=$(cd ../shared/conformance/corpus 2>/dev/null && pwd || true)
[ -n "$corpus" ] || { echo "bench/config.sh: ../shared/conformance/corpus is missing" >&2; exit 1; }

need=()
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v hyperfine >/dev/null || need+=(hyperfine)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

swift build -c release --static-swift-stdlib >/dev/null
berth=$(swift build -c release --static-swift-stdlib --show-bin-path)/berth

# The largest file the reference accepted (so both tools do the full job).
largest=$(awk -F'\t' 'NR>1 && $9=="ok" {print $1}' "$corpus/INDEX.tsv" | while read -r f; do
  printf '%s\t%s\n' "$(wc -c <"$corpus/$f")" "$f"; done | sort -rn | head -1 | cut -f2)
file="$corpus/$largest"
dir=$(dirname "$file")
echo "file: $largest ($(wc -c <"$file") bytes, $(grep -c '' "$file") lines)"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$dir"
# Both must succeed on the file before they are timed.
"$berth" -f "$file" config >/dev/null
docker-compose -f "$file" config >/dev/null 2>&1
hyperfine --warmup 3 --runs "$runs" --export-json "$out/config.json" -N \
  -n "berth config" "$berth -f $file config" \
  -n "docker-compose config" "docker-compose -f $file config"
python3 - "$out/config.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
b = results["berth config"]["median"] * 1000
d = results["docker-compose config"]["median"] * 1000
print(f"\n| tool | median ms | min ms |\n|---|---|---|")
for name, r in results.items():
    print(f"| {name} | {r['median']*1000:.1f} | {r['min']*1000:.1f} |")
print(f"\nberth is {d / b:.0f}x faster (median {b:.1f} ms vs {d:.1f} ms)")
PY
