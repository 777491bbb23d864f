#!/bin/sh
# Stands in for hgrid-agent (under mpirun, or as HGRID_AGENT for hgrid-launch) and gives
# each rank the GPUs a scheduler would: HGRID_TEST_VISIBLE=local-rank (the default)
# makes CUDA_VISIBLE_DEVICES this rank's local rank, one distinct GPU per rank as
# `srun --gpus-per-task=1` does; any other value is used as CUDA_VISIBLE_DEVICES itself
# (e.g. 0: every rank sees only GPU 0). Then it runs the real agent,
# $HGRID_TEST_REAL_AGENT, with its own arguments.
set -eu
: "${HGRID_TEST_REAL_AGENT:?set HGRID_TEST_REAL_AGENT to the hgrid-agent to run}"
case ${HGRID_TEST_VISIBLE:-local-rank} in
local-rank) CUDA_VISIBLE_DEVICES=${OMPI_COMM_WORLD_LOCAL_RANK:?not started by mpirun} ;;
*) CUDA_VISIBLE_DEVICES=$HGRID_TEST_VISIBLE ;;
esac
export CUDA_VISIBLE_DEVICES
exec "$HGRID_TEST_REAL_AGENT" "$@"
