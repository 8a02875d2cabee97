#!/usr/bin/env bash
# The Slurm path tested for real, on a one-node Slurm started on this host:
# certify the digits test split as a job array of 4 shards
# (`cargo xtask slurm certify --submit`), cancel one task midway, submit
# again (only that shard may run again), and compare the merged records
# with a single-process run, byte for byte but for the `seconds` column.
#
# Not part of CI. Run as root from anywhere in the checkout:
#     bash scripts/slurm-e2e.sh
# Slurm and MUNGE come from the distribution's packages (slurmctld, slurmd,
# slurm-client, munge), installed with apt-get when missing. The cluster
# uses its own ports and folders and is stopped at the end; KEEP=1 keeps its
# folder (configuration, logs, records) for a look.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "slurm-e2e: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root: slurmd starts the tasks as their user"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    say "installing Slurm and MUNGE from the distribution's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y slurmctld slurmd slurm-client munge >/dev/null \
        || fail "apt-get install slurmctld slurmd slurm-client munge"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/csrs-slurm-e2e.XXXXXX")
cleanup() {
    # Only this test's cluster: never the jobs of one SLURM_CONF named before.
    if [ "${SLURM_CONF:-}" = "$work/slurm.conf" ]; then scancel --quiet --user="$(id -un)" 2>/dev/null || true; fi
    for daemon in slurmd slurmctld; do
        [ -f "$work/$daemon.pid" ] && kill "$(cat "$work/$daemon.pid")" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# MUNGE authenticates the Slurm daemons and commands to each other.
if ! munge -n >/dev/null 2>&1; then
    [ -f /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- munged || fail "munged did not start"
    munge -n >/dev/null || fail "munge cannot encode a credential"
fi

host=$(hostname -s)
mkdir -p "$work/state" "$work/spool"
export SLURM_CONF="$work/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=csrs-e2e
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=e2e Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start (see $work/slurmctld.log)"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start (see $work/slurmd.log)"

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
    local seconds=$1
    shift
    for _ in $(seq "$seconds"); do
        if "$@"; then return 0; fi
        sleep 1
    done
    return 1
}
node_idle() { [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; }
queue_empty() { [ -z "$(squeue -h 2>/dev/null)" ]; }
wait_for 60 node_idle || fail "the node did not come up (see $work/slurmd.log)"
say "one-node Slurm up: $(sinfo -h -o '%P %D node(s), %c CPUs')"

# The digits certification of the README, its records in the work folder.
config="$work/digits.toml"
sed "s|^out = .*|out = \"$work/merged.tsv\"|" configs/certify/digits.toml >"$config"
cargo build --release --quiet --package csrs-cli
say "single-process run"
start=$(date +%s)
target/release/csrs certify --config "$config" --out "$work/single.tsv" >/dev/null
say "single-process run: $(($(date +%s) - start)) s"

say "first submission: 4 shards and the merge"
start=$(date +%s)
cargo xtask slurm certify --config "$config" --shards 4 --submit
shards="$work/merged.tsv.shards"
# Cancel shard 2 once it has written some records, and before it finishes.
records_of_2() { [ -f "$shards/shard-2.tsv" ] && [ "$(wc -l <"$shards/shard-2.tsv")" -ge 20 ]; }
wait_for 600 records_of_2 || fail "shard 2 wrote no records"
array=$(squeue -h -o '%F %j' | awk '$2 ~ /^csrs-certify/ { print $1; exit }')
[ -n "$array" ] || fail "the job array is not in the queue"
[ -f "$shards/shard-2.done" ] && fail "shard 2 finished before it could be cancelled"
scancel "${array}_2"
say "cancelled task ${array}_2 after $(($(wc -l <"$shards/shard-2.tsv") - 1)) records"
wait_for 900 queue_empty || fail "the jobs did not end"
[ -f "$work/merged.tsv" ] && fail "the merge ran although shard 2 was cancelled"
for shard in 0 1 3; do
    cmp -s "$shards/run.key" "$shards/shard-$shard.done" || fail "shard $shard is not marked done"
done
[ -f "$shards/shard-2.done" ] && fail "the cancelled shard 2 is marked done"
kept=$(($(wc -l <"$shards/shard-2.tsv") - 1))

say "second submission: only shard 2 may run"
submitted=$(cargo xtask slurm certify --config "$config" --shards 4 --submit)
echo "$submitted"
grep -q "^shards 2 of 4 to run" <<<"$submitted" || fail "the second submission did not run shard 2 alone"
wait_for 900 queue_empty || fail "the jobs did not end"
say "sharded run, both submissions: $(($(date +%s) - start)) s"
[ -f "$work/merged.tsv" ] || fail "no merged records (see $shards/logs)"
grep -q "^resuming .*shard-2.tsv: $kept records kept" "$shards/logs/certify-2.log" \
    || fail "the rerun of shard 2 did not resume from its $kept records (see $shards/logs/certify-2.log)"

# The same records, but for the seconds each example took.
without_seconds() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") s = i }
        { line = ""; for (i = 1; i <= NF; i++) if (i != s) line = line (line == "" ? "" : "\t") $i; print line }' "$1"
}
cmp <(without_seconds "$work/single.tsv") <(without_seconds "$work/merged.tsv") \
    || fail "the merged records differ from the single-process run"
lines=$(($(wc -l <"$work/merged.tsv") - 1))
say "PASSED: $lines records merged from 4 shards (shard 2 resumed from $kept) match the single-process run"
again=$(cargo xtask slurm certify --config "$config" --shards 4 2>&1) || fail "the third run failed: $again"
grep -q "nothing to submit" <<<"$again" || fail "a third run would submit: $again"
