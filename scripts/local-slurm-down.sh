#!/usr/bin/env bash
# Stops what local-slurm-up.sh started, by the PIDs it recorded (never by name, so
# nothing else on the machine is touched), and waits until they are gone.
set -uo pipefail
dir=${HGRID_SLURM_DIR:-/tmp/hgrid-slurm}
stop() {
  local pidfile=$1 prog=$2 pid
  [[ -s "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  # A stale pid file may name a PID now used by something else: leave that alone.
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$(command -v "$prog")")" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
}
stop "$dir/run/slurmd.pid" slurmd
stop "$dir/run/slurmctld.pid" slurmctld
stop "$dir/munge/munged.pid" munged
rm -f "$dir/run/"*.pid
echo "local-slurm-down: stopped"
