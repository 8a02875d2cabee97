#!/usr/bin/env bash
# What sharding costs: the digits certification of the README
# (configs/certify/digits.toml) as K = 1, 2, 4 and 8 shards, each shard run
# alone on this machine as if each had a machine of its own. Prints, per K,
# the slowest shard (the wall time with K machines), the sum over shards
# (the machine time) and the sum's excess over one process.
#     bash scripts/shard-overhead.sh [RUNS]   (RUNS repetitions, median; default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release --quiet --package csrs-cli
work=$(mktemp -d "${TMPDIR:-/tmp}/csrs-shards.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Seconds one command takes.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "shard-overhead: $* failed" >&2; return 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf 'shards\tslowest_s\tsum_s\texcess\n'
single=
for shards in 1 2 4 8; do
    slowest=() sums=()
    for run in $(seq "$runs"); do
        slow=0 sum=0
        for shard in $(seq 0 $((shards - 1))); do
            rm -f "$work"/out.tsv*
            s=$(seconds target/release/csrs certify --config configs/certify/digits.toml \
                --shard "$shard/$shards" --out "$work/out.tsv")
            sum=$(echo "$sum + $s" | bc)
            slow=$(echo "if ($s > $slow) $s else $slow" | bc)
        done
        slowest+=("$slow") sums+=("$sum")
    done
    slow=$(printf '%s\n' "${slowest[@]}" | median)
    sum=$(printf '%s\n' "${sums[@]}" | median)
    single=${single:-$sum}
    printf '%d\t%.1f\t%.1f\t%+.1f%%\n' "$shards" "$slow" "$sum" "$(echo "($sum / $single - 1) * 100" | bc -l)"
done
