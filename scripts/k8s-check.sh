#!/usr/bin/env bash
# Checks the Kubernetes manifests of docs/scale-out.md (its ```yaml blocks,
# as written there) against the Kubernetes API's schemas, strictly (an
# unknown or misplaced field is an error), with kubernetes-validate from
# PyPI in a throwaway virtual environment; and with kubectl's client-side
# dry run when kubectl reaches a cluster. Not part of CI.
#     bash scripts/k8s-check.sh [VERSION]...   (default: 1.29.0 1.32.0 1.35.0)
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.29.0 1.32.0 1.35.0)
work=$(mktemp -d "${TMPDIR:-/tmp}/csrs-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT

awk -v dir="$work" '
    /^```yaml$/ { n++; out = sprintf("%s/manifest-%d.yaml", dir, n); next }
    /^```/ { out = ""; next }
    out != "" { print > out }' docs/scale-out.md
manifests=("$work"/manifest-*.yaml)
[ -f "${manifests[0]}" ] || { echo "k8s-check: no yaml blocks in docs/scale-out.md" >&2; exit 1; }

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet kubernetes-validate
for version in "${versions[@]}"; do
    "$work/venv/bin/kubernetes-validate" --strict --kubernetes-version "$version" "${manifests[@]}"
done
if kubectl cluster-info >/dev/null 2>&1; then
    kubectl apply --dry-run=client -f "$work"
else
    echo "k8s-check: no cluster reachable, so no kubectl dry run" >&2
fi
echo "k8s-check: ${#manifests[@]} manifests valid for Kubernetes ${versions[*]}"
