#!/usr/bin/env bash
# Run a whole landpulse job inside ONE Slurm allocation: scheduler, workers and driver together.
# For sites that forbid jobs submitting jobs (where `cluster: {kind: slurm}` cannot be used).
#
#   sbatch --ntasks=5 --cpus-per-task=4 --mem-per-cpu=4G --time=02:00:00 \
#          scripts/landpulse-sbatch.sh job.yaml [extra `landpulse run` options]
#
# Task 0 (this script) runs the Dask scheduler and the landpulse driver; the other
# SLURM_NTASKS - 1 tasks each run one Dask worker (srun), with SLURM_CPUS_PER_TASK threads and
# one landpulse unit at a time. GPU partitions: add --gres=gpu:N (or --gpus-per-task=1) and set
# LANDPULSE_WORKER="dask_cuda.cli" to start dask-cuda workers (one per GPU of each task).
# Everything stops with the allocation; the driver's exit status is the job's.
#
# Environment: LANDPULSE (the landpulse command, default: landpulse on PATH), PYTHON (default:
# python3), LANDPULSE_WORKER (worker module, default distributed.cli.dask_worker),
# LANDPULSE_SCHEDULER_DIR (where the scheduler file goes; default: a folder in the working dir).
set -euo pipefail

JOB=${1:?usage: sbatch [options] landpulse-sbatch.sh job.yaml [landpulse run options]}
shift
PYTHON=${PYTHON:-python3}
LANDPULSE=${LANDPULSE:-landpulse}
WORKER=${LANDPULSE_WORKER:-distributed.cli.dask_worker}
JOBID=${SLURM_JOB_ID:-local}
NTASKS=${SLURM_NTASKS:-2}
THREADS=${SLURM_CPUS_PER_TASK:-1}
DIR=${LANDPULSE_SCHEDULER_DIR:-$PWD/.landpulse-slurm-$JOBID}
mkdir -p "$DIR"
SCHEDULER_FILE="$DIR/scheduler.json"
rm -f "$SCHEDULER_FILE"

if [ "$NTASKS" -lt 2 ]; then
  echo "landpulse-sbatch: needs --ntasks >= 2 (one for the scheduler and driver, the rest for workers)" >&2
  exit 2
fi

cleanup() {
  # stop the workers' job step and the scheduler, whatever happened to the driver
  [ -n "${WORKERS_PID:-}" ] && kill "$WORKERS_PID" 2>/dev/null || true
  [ -n "${SCHEDULER_PID:-}" ] && kill "$SCHEDULER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The job's Dask settings for the scheduler and the workers this script starts (worker deaths a
# unit may cause, the workers' malloc settings: landpulse.production.cluster.cluster_config); srun passes
# the environment on to the worker tasks.
DASK_INTERNAL_INHERIT_CONFIG=$("$PYTHON" -c 'import sys
from landpulse.production.cluster import inherited_config
from landpulse.production.jobspec import load_job
print(inherited_config(load_job(sys.argv[1]).cluster))' "$JOB")
export DASK_INTERNAL_INHERIT_CONFIG

# The scheduler listens on this node's address (workers on other nodes must reach it); its
# dashboard stays on localhost (reach it through an ssh tunnel).
"$PYTHON" -m distributed.cli.dask_scheduler --scheduler-file "$SCHEDULER_FILE" \
  --dashboard-address 127.0.0.1:0 > "$DIR/scheduler.log" 2>&1 &
SCHEDULER_PID=$!
for _ in $(seq 1 120); do [ -s "$SCHEDULER_FILE" ] && break; sleep 0.5; done
[ -s "$SCHEDULER_FILE" ] || { echo "landpulse-sbatch: the scheduler did not start (see $DIR/scheduler.log)" >&2; exit 1; }

# Workers: one per remaining task, in one job step that shares the allocation with this task.
srun --ntasks=$((NTASKS - 1)) --cpus-per-task="$THREADS" --overlap --kill-on-bad-exit=0 \
  "$PYTHON" -m "$WORKER" --scheduler-file "$SCHEDULER_FILE" --nthreads "$THREADS" \
  --resources landpulse-unit=1 --death-timeout 60 > "$DIR/workers.log" 2>&1 &
WORKERS_PID=$!

set +e
"$LANDPULSE" run "$JOB" --scheduler-file "$SCHEDULER_FILE" "$@"
STATUS=$?
set -e
exit $STATUS
