#!/usr/bin/env bash
# Brings up a real single-node SLURM (munged + slurmctld + slurmd) on loopback, for
# hgrid's integration tests. Everything lives under $HGRID_SLURM_DIR (default
# /tmp/hgrid-slurm): config, state, logs, pids and munge's key and socket, so the
# system's own /etc/slurm and /etc/munge are never touched. Needs root (slurmd).
# On success prints the line to eval: export SLURM_CONF=...
# Usage: eval "$(scripts/local-slurm-up.sh)"; srun -n 8 ...; scripts/local-slurm-down.sh
set -euo pipefail

dir=${HGRID_SLURM_DIR:-/tmp/hgrid-slurm}
cpus=${HGRID_SLURM_CPUS:-32}
timeout_s=${HGRID_SLURM_TIMEOUT:-30}
host=$(hostname -s)

die() { echo "local-slurm-up: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (slurmd needs it)"
for b in munged slurmctld slurmd sinfo; do
  command -v "$b" >/dev/null || die "$b not found: run scripts/install-deps.sh"
done

# A host name that does not resolve makes slurmctld refuse its own node.
if ! getent hosts "$host" >/dev/null; then
  echo "127.0.0.1 $host" >>/etc/hosts
fi

mkdir -p "$dir"/{state,spool,log,run,munge}
chmod 755 "$dir"
chown munge:munge "$dir/munge"
chmod 700 "$dir/munge"
if [[ ! -s "$dir/munge/munge.key" ]]; then
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
fi
chown munge:munge "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"

cat >"$dir/slurm.conf" <<CONF
ClusterName=hgrid-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
SlurmctldPort=${HGRID_SLURM_PORT:-16817}
SlurmdPort=$(( ${HGRID_SLURM_PORT:-16817} + 1 ))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
InactiveLimit=0
KillWait=5
MinJobAge=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=16000
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
cat >"$dir/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
CgroupAutomount=no
IgnoreSystemd=yes
CONF
export SLURM_CONF=$dir/slurm.conf

if [[ ! -S "$dir/munge/munge.socket" ]] || ! munge -n -S "$dir/munge/munge.socket" >/dev/null 2>&1; then
  runuser -u munge -- munged --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" --force
fi
munge -n -S "$dir/munge/munge.socket" | unmunge -S "$dir/munge/munge.socket" >/dev/null \
  || die "munge does not work; see $dir/munge/munged.log"

# A pid file left by a killed run may name a PID reused by something else: trust it
# only when that process runs the expected program.
pid_is() { [[ -s "$1" && "$(readlink "/proc/$(cat "$1")/exe" 2>/dev/null)" == "$(readlink -f "$(command -v "$2")")" ]]; }
pid_is "$dir/run/slurmctld.pid" slurmctld || slurmctld -f "$SLURM_CONF"
pid_is "$dir/run/slurmd.pid" slurmd || slurmd -f "$SLURM_CONF"

# Bounded wait for the node to come up idle.
for ((i = 0; i < timeout_s * 5; i++)); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  if [[ "$state" == idle* || "$state" == mix* || "$state" == alloc* ]]; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "local-slurm-up: node $host not idle after ${timeout_s}s (state '${state:-none}')" >&2
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null || true
exit 1
