#!/usr/bin/env bash
# Issues 20 and 16's runs, one command: the paper's rows still missing and the D4RL table, at the reduced budgets of the
# existing results, at the lowest CPU priority beside the full-budget runs (never instead of them).
#
#   launch/coverage_runs.sh                    # every group, then the tables
#   launch/coverage_runs.sh offline tables     # some groups (offline handreach fetchreach
#                                              # ablation sac d4rl tables), in the order given
#   NUM_CPUS=2 launch/coverage_runs.sh         # two runs at once (default 1: one at a time)
#   DRY_RUN=1 launch/coverage_runs.sh          # list every run and its command, start nothing
#   PROGRESS=1 launch/coverage_runs.sh d4rl    # per group: how many of its runs have finished
#   COVERAGE_RUNS=/work/runs/coverage ...      # where the run directories are (default runs/)
#
# Every run is `nice -n 19`, one TF thread (--threads_per_run=1), in a run directory under runs/
# (gitignored) of the checkout this script is in. Resumable: finished runs (DONE) are skipped,
# unfinished ones resume from their last checkpoint; stop with Ctrl-C and run the same command
# again. The tables are regenerated from the runs with --earlier, which keeps the rows of the
# committed results/*.csv whose run directories are not on this machine (HalfCheetah and Hopper
# offline; the deployment rows of issue 5), so the new rows are added, not swapped in.
#
# Core-hours (one TF thread each; from measured numbers, see each group): about 30 for issue 20, 11-12 for the D4RL group.
# Nice 19 yields to the nice-0 processes of the same session only: where the kernel groups CPU
# time by session (autogroup, the default of most Linux distributions) every session first gets
# an equal share, so started from a terminal beside the two long-run lanes this script would take
# a third of the machine (a nice-19 busy loop got 71% of a core there, 2026-12-07). To run it on
# what other work leaves, start it as `launch/idle.sh launch/coverage_runs.sh ...` (2.9% of a core
# beside both lanes): then it barely moves while they run. The lanes run it as their own work, a
# core each (launch/long_runs.sh). On an idle core expect about the core-hours below.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export RAY_worker_niceness=19   # the sweep's Ray workers stay at nice 19 too
NUM_CPUS="${NUM_CPUS:-1}"
DRY=()
[[ -n "${DRY_RUN:-}" ]] && DRY=(--dry_run)
PY="${PYTHON:-python}"
RUNS="${COVERAGE_RUNS:-runs}"

# sweep KIND GIN_FILES ALGOS SEEDS EXTRA_GIN...: one launch/sweep.py grid (resumable).
sweep() {
  local kind=$1 gin_files=$2 algos=$3 seeds=$4
  shift 4
  local extra=()
  for g in "$@"; do extra+=("--extra_gin=$g"); done
  nice -n 19 "$PY" launch/sweep.py --kind="$kind" --gin_files="$gin_files" --algos="$algos" \
      --seeds="$seeds" "${extra[@]}" --threads_per_run=1 --cpus_per_run=1 \
      --num_cpus="$NUM_CPUS" --runs_dir="${RUNS_DIR:-$RUNS/$kind}" "${DRY[@]}"
}

group_offline() {
  # Walker2d and Ant columns of results/offline_{100k,50k}.md: 6 methods (BRAC gives BRAC and
  # BRAC (max Q)), 3 seeds, gin/budget/table.gin as the existing columns (60 runs; the same
  # command as README's for HalfCheetah and Hopper). Datasets are made on demand (~30 s each).
  # About 13 core-hours: per env, size and seed about 1.1 h = BREMEN 0.35 (dynamics 10 epochs and
  # BC 100k steps at results/reproduction_time.md's walker2d/ant step costs; 100 updates at the
  # ~6,000 imagined steps/s the HalfCheetah/Hopper BREMEN runs had, results/offline_100k.md,
  # scaled by reproduction_time's walker2d/ant update times) + ME-TRPO 0.17 (~9,000 steps/s, the
  # dynamics fit shared through the cache) + BC 0.04 (~300 steps/s) + BCQ 0.35 (~25 steps/s) +
  # BRAC 0.2 (~60 steps/s + π_b), the model-free speeds those tables list (before the model-free
  # speed-up of results/performance_model_free.md, so an upper bound).
  sweep offline gin/walker2d_100k.gin,gin/ant_100k.gin,gin/walker2d_50k.gin,gin/ant_50k.gin \
      bremen,bc,bcq,brac,me_trpo 0,1,2 gin/budget/table.gin
}

group_handreach() {
  # HandReach, deployment-efficient BREMEN, 1 seed: 10 deployments of 5,000 transitions, 500 TRPO
  # updates per deployment on 10K-step imagined batches (gin/budget/handreach.gin, FetchReach's
  # small-batch budget). About 2.4 core-hours (the estimate in gin/budget/handreach.gin: a short
  # HandReach/FetchReach timing and gin/budget/fetchreach.gin's 7.5 s per 50K-step update).
  sweep deployment gin/deployment/handreach.gin bremen 0 gin/budget/handreach.gin
}

group_fetchreach() {
  # FetchReach baseline: ME-TRPO under each budget the BREMEN FetchReach runs had (seed 0, as
  # they): gin/budget/fetchreach.gin (50 updates per deployment) about 1.2 core-hours, and
  # gin/budget/fetchreach_small_batch.gin (500 on 10K-step batches) about 2.4 (same sources as
  # HandReach; ME-TRPO skips BC).
  sweep deployment gin/deployment/fetchreach.gin me_trpo 0 gin/budget/fetchreach.gin
  sweep deployment gin/deployment/fetchreach.gin me_trpo 0 gin/budget/fetchreach_small_batch.gin
}

group_ablation() {
  # The α ablation on HalfCheetah at gin/budget/deployment.gin (5 x 50K, 100 TRPO updates per
  # deployment): explicit KL penalty α = 0.1 and 1.0, no BC initialisation, 2 seeds as the
  # existing BREMEN row; and BREMEN seeds 0, 1 again, whose KL to the previous deployment's policy
  # per outer iteration the comparison needs (their run directories are not on this machine).
  # About 10 core-hours: 6 runs of about 1.65 h (500 updates at ~6,000 imagined steps/s as in
  # results/offline_100k.md; dynamics refits <= 5 epochs on 50K-250K transitions and BC 100k
  # steps per deployment at results/reproduction_time.md's halfcheetah step costs; the ablation
  # still clones π̂_β for its penalty).
  sweep deployment gin/deployment/halfcheetah_200k.gin bremen,alpha_0.1,alpha_1.0 0,1 \
      gin/budget/deployment.gin
}

group_sac() {
  # Online SAC, the deployment-unconstrained reference row of results/deployment.md (250K env
  # steps, gin/budget/sac_deployment.gin): its run is not on this machine and the committed CSV
  # does not hold it. About 1.2 core-hours (HalfCheetah SAC: 40K steps in 12.1 min with its
  # evaluations, results/behavior_policies.md).
  local dir=$RUNS/deployment_sac/halfcheetah/seed0
  if [[ -n "${DRY_RUN:-}" ]]; then  # listed finished or not, as the sweeps list their runs
    echo "$(realpath -m "$dir")"
    echo "    $PY launch/train_behavior.py --gin_file=gin/deployment/sac_halfcheetah.gin --gin_file=gin/budget/sac_deployment.gin --root_dir=$dir --tf_threads=1"
  elif [[ -e "$dir/DONE" ]]; then
    echo "[coverage] $dir finished already"
  else
    nice -n 19 "$PY" launch/train_behavior.py --gin_file=gin/deployment/sac_halfcheetah.gin \
        --gin_file=gin/budget/sac_deployment.gin --root_dir="$dir" --tf_threads=1
  fi
}

d4rl_sweep() {  # the D4RL grid (the sweep's arguments after it: e.g. --dry_run)
  local gins=()
  for robot in halfcheetah hopper; do
    for data in random medium medium_replay; do gins+=("gin/d4rl/${robot}_$data.gin"); done
  done
  RUNS_DIR=$RUNS/d4rl sweep offline "$(IFS=,; echo "${gins[*]}")" bremen,bc 0,1 gin/budget/table.gin
}

runs_listed() {  # the run directories a dry run of the command lists: its lines that start
  # with / (a run's command follows on an indented line, which may start with an absolute python).
  # The sweeps only list their runs (--list_runs: no gin check, no TensorFlow, ~1 s a sweep).
  local DRY=(--list_runs) DRY_RUN=1  # the groups and sweep() see these
  "$@" | awk '/^\// {print $1}'
}

d4rl_runs_all_finished() {  # true only if the grid's dry run lists runs and each has DONE
  local listed=0 path
  while read -r path; do
    listed=1
    [[ -e "$path/DONE" ]] || return 1
  done < <(runs_listed d4rl_sweep)
  ((listed))
}

group_progress() {  # "<group>: k of n runs finished", and those started but not finished
  local path n=0 k=0 open=()
  while read -r path; do
    n=$((n + 1))
    if [[ -e "$path/DONE" ]]; then k=$((k + 1))
    elif [[ -e "$path/train_state.json" ]]; then open+=("$(basename "$(dirname "$path")")/${path##*/}"); fi
  done < <(runs_listed "group_$1")
  if ((n == 0)); then echo "$1: no runs of its own"; return; fi
  echo "$1: $k of $n runs finished${open[*]:+; started, not finished: ${open[*]}}"
}

group_d4rl() {
  # Issue 16's table: BC and BREMEN on the D4RL protocol regenerated on v5 (halfcheetah, hopper x
  # random, medium, medium-replay), 2 seeds, gin/budget/table.gin, in runs/d4rl; then
  # results/d4rl.md. The 6 datasets first (idempotent; docs/datasets.md, "The D4RL recipe
  # regenerated on gymnasium v5": about 1-1.5 core-hours), then 24 runs (about 10 core-hours at
  # the offline tables' speeds). On a machine where every run is finished already (restored from
  # results/runs/ by launch/run_archive.py) the datasets are not made again: no run needs them.
  if [[ -n "${DRY_RUN:-}" ]]; then
    echo "    $PY launch/make_d4rl_datasets.py --tf_threads=1"
  elif d4rl_runs_all_finished; then
    echo "[coverage] every D4RL run has finished: the datasets are not needed"
  else
    nice -n 19 "$PY" launch/make_d4rl_datasets.py --tf_threads=1
  fi
  d4rl_sweep
  [[ -n "${DRY_RUN:-}" ]] && { echo "table: launch/d4rl_table.py"; return; }
  nice -n 19 "$PY" launch/d4rl_table.py
}

group_tables() {
  # The generated files, from the runs here plus the committed rows whose runs are not here.
  [[ -n "${DRY_RUN:-}" ]] && { echo "tables: launch/tables.py, launch/deployment_tables.py"; return; }
  nice -n 19 "$PY" launch/tables.py --earlier='results/offline_{size}.csv'
  nice -n 19 "$PY" launch/deployment_tables.py --earlier=results/deployment.csv
}

ALL=(offline handreach fetchreach ablation sac d4rl tables)
for group in "${@:-${ALL[@]}}"; do
  if ! declare -F "group_$group" > /dev/null; then
    echo "unknown group '$group': expected one of ${ALL[*]}" >&2
    exit 2
  fi
  if [[ -n "${PROGRESS:-}" ]]; then group_progress "$group"; continue; fi
  echo "[coverage] === $group ==="
  "group_$group"
done
