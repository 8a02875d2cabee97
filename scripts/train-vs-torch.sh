#!/usr/bin/env bash
# One training epoch on the CPU, `csrs train` against PyTorch
# (scripts/torch_train.py, the same objective through csrs.torch.losses and
# the same hyperparameters), on the same machine in one run:
#
#  (a) the digits CNN on digits' training split (1 297 images), macer-cs
#      (configs/train/digits-macer-cs.toml: k = 16, cost matrix 3 <-> 8);
#  (b) CIFAR ResNet-20 on CIFAR_IMAGES synthetic CIFAR-shaped images, macer-cs
#      (configs/train/cifar10-macer-cs.toml with cifar-resnet20: k = 16, seed
#      class cat, crop and flip).
#
# Usage: scripts/train-vs-torch.sh [CSRS [CIFAR_IMAGES]]
#   CSRS          the csrs binary (default target/release/csrs, from
#                 `cargo build --release -p csrs-cli`)
#   CIFAR_IMAGES  synthetic training images for (b), at least 5 (default
#                 1000: minutes per run on two cores)
# PYTHON names the interpreter that has torch and the csrs Python package
# (default python3).
#
# Each side runs twice, alternating (csrs, torch, csrs, torch), and the best
# of each is kept. Both use the same number of threads: csrs (burn's flex
# backend, on rayon) all the cores rayon sees, RAYON_NUM_THREADS if set,
# otherwise nproc, set explicitly; torch as many, by torch.set_num_threads.
#
# It prints the machine, the versions and threads, and a markdown table:
# network, method, images, csrs s/epoch, torch s/epoch, torch/csrs (above 1:
# csrs is faster). What each side's time covers:
#  - csrs: the `seconds` column of <out>.log.csv, written with 0.1 s
#    resolution: the whole epoch from its first batch (no warm-up step),
#    then the noisy test accuracy (one noisy copy of each test image, one
#    forward pass: digits' 500 test images for (a), a 10-image synthetic
#    test split for (b)); not the checkpoint, written after the clock is read;
#  - torch: the epoch after one untimed warm-up step, no test accuracy.
# The two sides draw different noise, crops and batch orders, and (b)'s
# synthetic pixels differ (the same shape, labels i % 10): speed only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
csrs=${1:-$root/target/release/csrs}
cifar_images=${2:-1000}
python=${PYTHON:-python3}
rounds=2

if [ ! -x "$csrs" ]; then
    echo "train-vs-torch: no csrs binary at $csrs (cargo build --release -p csrs-cli, or give its path)" >&2
    exit 2
fi
if ! [[ $cifar_images =~ ^[0-9]+$ ]] || [ "$cifar_images" -lt 5 ]; then
    echo "train-vs-torch: CIFAR_IMAGES $cifar_images, expected a number >= 5 (one image per training file at least)" >&2
    exit 2
fi
if ! "$python" -c 'import torch, csrs.torch.losses' 2>/dev/null; then
    echo "train-vs-torch: $python cannot import torch and csrs.torch.losses (set PYTHON)" >&2
    exit 2
fi
csrs=$(cd "$(dirname "$csrs")" && pwd)/$(basename "$csrs")
threads=${RAYON_NUM_THREADS:-$(nproc)}
export RAYON_NUM_THREADS=$threads

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { # fail MESSAGE LOG: the message and the log's end, then exit
    echo "train-vs-torch: $1" >&2
    tail -20 "$2" >&2
    exit 1
}

# CIFAR-10's binary files of random pixels, labels i % 10 over the whole
# split: DIR TRAIN_IMAGES TEST_IMAGES (the training images spread over the
# five data_batch files, each at least one).
synthetic_cifar() {
    "$python" -c '
import os, random, sys
folder, train, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(0)
def write(name, first, count):
    with open(os.path.join(folder, name), "wb") as f:
        for i in range(first, first + count):
            f.write(bytes([i % 10]) + rng.randbytes(3072))
for part in range(5):
    first, last = train * part // 5, train * (part + 1) // 5
    write(f"data_batch_{part + 1}.bin", first, last - first)
write("test_batch.bin", 0, test)
' "$1" "$2" "$3"
}

# The configuration SOURCE with one epoch, its outputs under the work
# folder and its cost file by its full path, then sed's EXTRA expressions:
# config NAME SOURCE [EXTRA...]
config() {
    local name=$1 source=$2
    shift 2
    sed -e "s|^epochs = .*|epochs = 1|" -e "s|^out = .*|out = \"$work/$name\"|" \
        -e "s|^cost = \"|cost = \"$root/|" "$@" "$root/$source" >"$work/$name.toml"
}

# csrs train on the configuration NAME, round ROUND: prints the epoch's seconds.
run_csrs() {
    local name=$1 round=$2 log="$work/$1-csrs-$2.log"
    sed -e "s|^out = .*|out = \"$work/$name-$round\"|" "$work/$name.toml" >"$work/$name-$round.toml"
    "$csrs" train --config "$work/$name-$round.toml" --force >"$log" 2>&1 || fail "csrs train failed ($name)" "$log"
    local seconds
    seconds=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next } c { s = $c } END { print s }' \
        "$work/$name-$round.log.csv" 2>/dev/null) || true
    [ -n "$seconds" ] || fail "no seconds in $name-$round.log.csv" "$log"
    echo "$seconds"
}

# scripts/torch_train.py with ARGS, round ROUND: prints its line.
run_torch() {
    local name=$1 round=$2 log="$work/$1-torch-$2.log"
    shift 2
    "$python" "$here/torch_train.py" "$@" --threads "$threads" >"$log" 2>&1 || fail "torch_train.py failed ($name)" "$log"
    grep '^torch-train ' "$log" || fail "no torch-train line ($name)" "$log"
}

field() { # field NAME LINE: the value of NAME=... in LINE
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# What csrs trained on: "training ... on DATASET (N examples)".
csrs_images() {
    sed -n 's/^training .* (\([0-9]*\) examples).*/\1/p' "$work/$1-csrs-1.log" | head -1
}

config digits configs/train/digits-macer-cs.toml
mkdir -p "$work/cifar-data"
synthetic_cifar "$work/cifar-data" "$cifar_images" 10 || { echo "train-vs-torch: $python could not write the synthetic CIFAR files" >&2; exit 1; }
config cifar configs/train/cifar10-macer-cs.toml -e "s|^data_dir = .*|data_dir = \"$work/cifar-data\"|" \
    -e "s|^architecture = .*|architecture = \"cifar-resnet20\"|"

# compare NETWORK NAME TORCH_ARGS...: both sides on the configuration NAME,
# alternating; appends a table row and the runs' times.
rows=()
compare() {
    local network=$1 name=$2
    shift 2
    local csrs_runs=() torch_runs=() line="" seconds round
    for round in $(seq "$rounds"); do
        echo "  $network: csrs, round $round" >&2
        seconds=$(run_csrs "$name" "$round")
        csrs_runs+=("$seconds")
        echo "  $network: torch, round $round" >&2
        line=$(run_torch "$name" "$round" "$@")
        torch_runs+=("$(field seconds "$line")")
    done
    torch_version=$(field torch "$line")
    torch_threads=$(field threads "$line")
    local images csrs_n
    images=$(field images "$line")
    csrs_n=$(csrs_images "$name")
    if [ "$csrs_n" != "$images" ]; then
        echo "train-vs-torch: csrs trained on ${csrs_n:-?} images, torch on $images ($network)" >&2
        exit 1
    fi
    local best_csrs best_torch
    best_csrs=$(printf '%s\n' "${csrs_runs[@]}" | sort -g | head -1)
    best_torch=$(printf '%s\n' "${torch_runs[@]}" | sort -g | head -1)
    rows+=("$(awk -v n="$network" -v i="$images" -v c="$best_csrs" -v t="$best_torch" \
        'BEGIN { printf "| %s | macer-cs | %d | %.1f | %.2f | %s |", n, i, c, t, (c > 0 ? sprintf("%.2f", t / c) : "-") }')")
    runs+=("- runs, $network: csrs ${csrs_runs[*]} s; torch ${torch_runs[*]} s")
}

runs=()
echo "timing one epoch, $rounds rounds each ($threads threads)" >&2
compare digits-cnn digits macer-cs cpu --model digits-cnn
compare cifar-resnet20 cifar macer-cs cpu "$cifar_images" --depth 20

model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cpus=$(lscpu | sed -n 's/^CPU(s): *//p' | head -1)
cores=$(lscpu | awk -F: '/^Core\(s\) per (socket|cluster):/ { c = $2 + 0 } /^Socket\(s\):/ { s = $2 + 0 }
    END { print (c > 0 ? c * (s > 0 ? s : 1) : "?") }')

echo "## One training epoch: csrs train vs PyTorch (CPU)"
echo
echo "- machine: ${model:-unknown CPU}, ${cpus:-?} CPUs (${cores} cores), $(nproc) available here"
echo "- csrs: $("$csrs" --version) ($csrs), $threads threads (RAYON_NUM_THREADS)"
echo "- torch: $torch_version, $torch_threads threads (torch.set_num_threads); $("$python" --version 2>&1)"
echo "- each side run $rounds times, alternating, the best kept:"
printf '  %s\n' "${runs[@]}"
echo
echo "| network | method | images | csrs s/epoch | torch s/epoch | torch/csrs |"
echo "|---|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "csrs s/epoch: the \`seconds\` column of csrs's training log (0.1 s resolution): the epoch from its first"
echo "batch, then the noisy test accuracy (digits: 500 test images; CIFAR: 10), no checkpoint. torch s/epoch:"
echo "the epoch after one untimed warm-up step. torch/csrs above 1: csrs is faster."
