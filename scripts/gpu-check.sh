#!/usr/bin/env bash
# csrs on an NVIDIA GPU at the paper's scale, with PyTorch on the same GPU in
# the same run, so that every ratio is a same-run ratio.
#
# Usage: scripts/gpu-check.sh CSRS [OUT_DIR]
#   CSRS     a csrs binary built with `--features cuda`
#            (CUDARC_CUDA_VERSION=13000 cargo build --release -p csrs-cli --features cuda)
#   OUT_DIR  where logs and results go (default: gpu-check)
#
# It prints the card, then
#  1. csrs's sampling throughput (`csrs bench`) for LeNet-5, CIFAR ResNet-110
#     and ResNet-50 at 224x224, at batch 400 and larger batches, in each
#     --precision of GPU_CHECK_PRECISIONS (default "f32 bf16": tf32 runs
#     f32's program in burn 0.21);
#  2. the seconds per certificate of CIFAR ResNet-110 at n = 100 000 on
#     synthetic CIFAR-10 images (untrained weights: speed only), all in
#     GPU_CHECK_CERTIFY_PRECISION (default bf16): a first run (kernels
#     compiled and autotuned) and a second (found in the caches) of 3
#     inputs, then GPU_CHECK_INPUTS inputs (default 100), with and without
#     --target-radius 0.25;
#  3. PyTorch's throughput on the same models (scripts/torch_sampling.py:
#     eager, TorchScript-tuned and bf16 autocast), when torch is importable;
#  4. one training epoch of configs/train/cifar10-gaussian.toml and
#     cifar10-macer-cs.toml (ResNet-110, k = 16) on GPU_CHECK_TRAIN_IMAGES
#     synthetic CIFAR-shaped images (default 5000), csrs against
#     scripts/torch_train.py (the same objective and hyperparameters, its
#     loss from csrs.torch.losses: when GPU_CHECK_WHEEL names a csrs wheel);
#  5. models exported by `csrs model export` loaded into PyTorch (strictly)
#     with the same logits (scripts/check_export.py), and checkpoints saved
#     in PyTorch's other formats and layouts imported with PyTorch's logits
#     (scripts/check_pytorch_layouts.py), when torch is importable;
#  6. the Python package over PyTorch's ResNet-110 (csrs.torch.Smoothed, the
#     noise drawn and counted on the GPU) against Cohen et al.'s certify loop
#     at n = 100 000 (scripts/torch_smoothed.py), when GPU_CHECK_WHEEL names
#     a csrs wheel (`maturin build --release -m crates/csrs-py/Cargo.toml`).
# Each step has a time limit; a failed step is reported and the rest go on.
# The exit status is the number of failed steps.
#
# GPU_CHECK_STEPS picks the parts to run, from "bench imagenet certify torch
# train interop python" (all by default), e.g. GPU_CHECK_STEPS="bench certify" when
# time on the GPU is short; GPU_CHECK_TORCH_MODES the PyTorch modes (default
# "eager tuned amp").
#
# GPU_CHECK_SMOKE=1 runs every step at toy sizes on the CPU (f32 only), to
# check the script itself on a machine without a GPU.
set -uo pipefail

csrs=${1:?usage: scripts/gpu-check.sh CSRS [OUT_DIR]}
out=${2:-gpu-check}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mkdir -p "$out"
failed=0

step() { # step NAME SECONDS COMMAND...: runs COMMAND with a time limit, logs to $out/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name"
    local start=$SECONDS
    if timeout "$limit" "$@" > >(tee "$out/$name.log") 2>&1; then
        echo "   ($name: $((SECONDS - start)) s)"
    else
        echo "   ($name FAILED with status $? after $((SECONDS - start)) s)"
        failed=$((failed + 1))
    fi
}

if [ "${GPU_CHECK_SMOKE:-0}" = 1 ]; then
    device=cpu bench_arch=lenet5,cifar-resnet20 imagenet_arch=resnet18 bench_samples=400 large_batch=400 large_samples=400
    certify_arch=cifar-resnet20 certify_n=200 torch_scale=50 precisions=f32 certify_precision=f32 inputs=4
    train_arch=cifar-resnet20 train_images=${GPU_CHECK_TRAIN_IMAGES:-64} python_bench="resnet20 500 1 100"
else
    device=cuda bench_arch=lenet5,cifar-resnet110 imagenet_arch=resnet50 bench_samples=8000 large_batch=4000 large_samples=40000
    # tf32 is f32's program in burn 0.21 (its kernels use TF32 tensor cores for f32): not timed twice.
    certify_arch=cifar-resnet110 certify_n=100000 torch_scale=1 precisions=${GPU_CHECK_PRECISIONS:-f32 bf16}
    certify_precision=${GPU_CHECK_CERTIFY_PRECISION:-bf16} inputs=${GPU_CHECK_INPUTS:-100}
    train_arch=cifar-resnet110 train_images=${GPU_CHECK_TRAIN_IMAGES:-5000} python_bench="resnet110 100000 3 4000"
    if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L; then
        echo "gpu-check: no NVIDIA GPU here (nvidia-smi -L failed)" >&2
        exit 100
    fi
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
fi

# burn's CUDA runtime loads libcuda and libnvrtc when it starts. (The cache
# is read whole first: `grep -q` stopping early would make ldconfig fail
# under pipefail.) The toolkit's own libraries come before PyTorch's copies,
# which can be of another CUDA version; the stub libraries (a libcuda.so that
# only links) never.
if ! grep -q 'libnvrtc\.so' <<<"$(ldconfig -p)"; then
    dirs=$({
        ls -d /usr/local/cuda*/lib64 /usr/local/cuda*/targets/*/lib 2>/dev/null
        python3 -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null | sed 's|$|/nvidia|'
    } | xargs -r -I{} find {} -name 'libnvrtc.so*' -printf '%h\n' 2>/dev/null | grep -v '/stubs$' | awk '!seen[$0]++' | paste -sd:)
    export LD_LIBRARY_PATH="${dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
ldconfig -p | grep -E 'libcuda\.so|libnvrtc\.so' | head -4

steps=" ${GPU_CHECK_STEPS:-bench imagenet certify torch train interop python} "
torch_modes=${GPU_CHECK_TORCH_MODES:-eager tuned amp}
wants() { [[ $steps == *" $1 "* ]]; }

have_torch=false
python3 -c "import torch; assert '$device' == 'cpu' or torch.cuda.is_available()" 2>/dev/null && have_torch=true

# The csrs Python package, for the PyTorch steps that use it (4 and 6).
have_package=false
if $have_torch && [ -n "${GPU_CHECK_WHEEL:-}" ]; then
    rm -rf "$out/python"
    if python3 -m pip install --quiet --no-deps --no-index --target "$out/python" "$GPU_CHECK_WHEEL"; then
        have_package=true
    else
        failed=$((failed + 1))
    fi
fi

# 1. Sampling throughput, in each precision.
for precision in $precisions; do
    if wants bench; then
        step "bench-400-$precision" 150 "$csrs" bench --device "$device" --precision "$precision" \
            --arch "$bench_arch" --batch 400 --samples "$bench_samples"
        step "bench-large-$precision" 90 "$csrs" bench --device "$device" --precision "$precision" \
            --arch "${bench_arch#*,}" --batch "$large_batch" --samples "$large_samples"
    fi
    if wants imagenet; then
        step "bench-imagenet-$precision" 180 "$csrs" bench --device "$device" --precision "$precision" \
            --arch "$imagenet_arch" --batch 100 --samples $((bench_samples / 4))
    fi
done

# CIFAR-10-shaped binary files of random pixels: FILE COUNT.
synthetic_cifar() {
    python3 -c '
import random, sys
random.seed(sys.argv[1])
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[2])):
        f.write(bytes([i % 10]) + bytes(random.randrange(256) for _ in range(3072)))
' "$1" "$2"
}

# 2. Certification at n = 100 000 on synthetic CIFAR-10 images: twice on 3
# inputs (the first process compiles and autotunes the kernels for the batch
# size, the second finds them in the caches the first one left), then on
# $inputs inputs in $certify_precision, with and without --target-radius.
if wants certify; then
    data="$out/cifar-10-batches-bin"
    mkdir -p "$data"
    synthetic_cifar "$data/test_batch.bin" "$inputs"
    "$csrs" model init --arch "$certify_arch" --dataset cifar10 --out "$out/$certify_arch" >/dev/null
    certify() { # certify NAME LIMIT OPTIONS...: certifies into $out/NAME.tsv
        local name=$1 limit=$2
        shift 2
        rm -f "$out/$name.tsv" "$out/$name.tsv".*
        step "$name" "$limit" "$csrs" certify --model "$out/$certify_arch" --dataset cifar10 --data-dir "$data" \
            --cost "$root/configs/costs/cifar10-seed-cat.toml" --sigma 0.25 --n0 100 --n "$certify_n" \
            --alpha 0.001 --batch 4000 --device "$device" --out "$out/$name.tsv" "$@"
        awk -F'\t' -v name="$name" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
            { s += $c; n++ } END { if (n) printf "%s: %d inputs, %.3f s per certificate\n", name, n, s / n }' \
            "$out/$name.tsv" 2>/dev/null | tee -a "$out/summary-certify.txt"
    }
    rm -f "$out/summary-certify.txt"
    certify "certify-$certify_arch-first" 150 --max 3 --precision "$certify_precision"
    certify "certify-$certify_arch-second" 150 --max 3 --precision "$certify_precision"
    certify "certify-$certify_arch-$certify_precision" 300 --precision "$certify_precision"
    certify "certify-$certify_arch-$certify_precision-target" 200 --precision "$certify_precision" --target-radius 0.25
fi

# 3. PyTorch on the same GPU.
if $have_torch && wants torch; then
    for model in "lenet 40000" "resnet110 8000" "resnet50 4000"; do
        set -- $model
        for mode in $torch_modes; do
            step "torch-$1-$mode" 60 python3 "$here/torch_sampling.py" "$1" $(($2 / torch_scale)) 400 "$mode" "$device"
        done
    done
    for mode in eager amp; do
        step "torch-resnet110-$mode-$large_batch" 60 python3 "$here/torch_sampling.py" resnet110 \
            $((40000 / torch_scale)) "$large_batch" "$mode" "$device"
    done
elif ! $have_torch; then
    echo "== torch: not importable here, PyTorch steps skipped"
fi

# 4. One training epoch on synthetic CIFAR-shaped data, csrs and PyTorch.
if wants train; then
    train_data="$out/train-cifar-10-batches-bin"
    mkdir -p "$train_data"
    for part in 1 2 3 4 5; do
        synthetic_cifar "$train_data/data_batch_$part.bin" $((train_images / 5))
    done
    # A small test split: csrs evaluates it after the epoch, PyTorch does not.
    synthetic_cifar "$train_data/test_batch.bin" 100
    for method in gaussian macer-cs; do
        sed -e "s|^data_dir = .*|data_dir = \"$train_data\"|" -e "s|^out = .*|out = \"$out/train-$method\"|" \
            -e "s|^epochs = .*|epochs = 1|" -e "s|^architecture = .*|architecture = \"$train_arch\"|" \
            -e "s|^cost = \"|cost = \"$root/|" "$root/configs/train/cifar10-$method.toml" >"$out/train-$method.toml"
        step "train-$method" 400 "$csrs" train --config "$out/train-$method.toml" --device "$device" --force
        cat "$out/train-$method.log.csv" 2>/dev/null
        if $have_package; then
            step "torch-train-$method" 400 env PYTHONPATH="$out/python" python3 "$here/torch_train.py" "$method" \
                "$device" $((train_images / 5 * 5)) --depth "${train_arch#cifar-resnet}"
        fi
    done
fi

# 5. Exported models in PyTorch.
if $have_torch && wants interop; then
    fixture="$root/crates/csrs-models/tests/data/pytorch"
    step pytorch-layouts 60 python3 "$here/check_pytorch_layouts.py" "$csrs" "$fixture" "$out/layouts"
    "$csrs" model import "$fixture/cifar_resnet20_cohen_format.pth.tar" --dataset cifar10 --out "$out/resnet20" &&
        "$csrs" model export "$out/resnet20" --out "$out/resnet20.safetensors" &&
        step export-resnet20-vs-pytorch 60 python3 "$here/check_export.py" "$out/resnet20.safetensors" \
            "$fixture/cifar_resnet20_expected.json" "$fixture/cifar_resnet20_expected.json"
    for spec in "lenet5 mnist 1 28" "digits-cnn digits 1 8" "mlp digits 1 8" "cifar-resnet110 cifar10 3 32" \
        "resnet18 imagenet 3 224" "resnet50 imagenet 3 224"; do
        set -- $spec
        python3 -c '
import json, random, sys
random.seed(1)
c, s = int(sys.argv[2]), int(sys.argv[3])
json.dump({"input_shape": [2, c, s, s], "inputs": [random.random() for _ in range(2 * c * s * s)]}, open(sys.argv[1], "w"))
' "$out/inputs-$1.json" "$3" "$4"
        "$csrs" model init --arch "$1" --dataset "$2" --classes "$([ "$2" = imagenet ] && echo 1000 || echo 10)" \
            --seed 3 --out "$out/$1" >/dev/null &&
            "$csrs" model export "$out/$1" --out "$out/$1.safetensors" &&
            "$csrs" model logits "$out/$1" --inputs "$out/inputs-$1.json" >"$out/logits-$1.json" &&
            step "export-$1-vs-pytorch" 60 python3 "$here/check_export.py" "$out/$1.safetensors" \
                "$out/inputs-$1.json" "$out/logits-$1.json" 1e-4
    done
fi

# 6. The Python package under PyTorch's own model, against Cohen's loop.
if $have_package && wants python; then
    step python-smoothed 400 env PYTHONPATH="$out/python" python3 "$here/torch_smoothed.py" bench "$device" \
            $python_bench
fi

echo "== summary"
grep -h -v '^arch' "$out"/bench-*.log 2>/dev/null
grep -h 'samples/s' "$out"/torch-*.log 2>/dev/null
grep -h 'per certificate' "$out"/summary-certify.txt 2>/dev/null
grep -h '^torch-train' "$out"/torch-train-*.log 2>/dev/null
cat "$out/python-smoothed.log" 2>/dev/null
for method in gaussian macer-cs; do
    [ -f "$out/train-$method.log.csv" ] && echo "csrs train $method: $(tail -1 "$out/train-$method.log.csv")"
done
grep -h 'check_' "$out"/export-*.log "$out"/pytorch-layouts.log 2>/dev/null
echo "failed steps: $failed"
exit "$failed"
