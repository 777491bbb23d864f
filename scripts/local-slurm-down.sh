#!/usr/bin/env bash
# Stops what local-slurm-up.sh started, by the PIDs it recorded (never by name, so
# nothing else on the machine is touched), and waits until they are gone.
set -uo pipefail
dir=${HGRID_SLURM_DIR:-/tmp/hgrid-slurm}
stop() {
  local pidfile=$1 pid
  [[ -s "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
}
stop "$dir/run/slurmd.pid"
stop "$dir/run/slurmctld.pid"
stop "$dir/munge/munged.pid"
rm -f "$dir/run/"*.pid
echo "local-slurm-down: stopped"
