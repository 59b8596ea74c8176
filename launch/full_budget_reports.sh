#!/usr/bin/env bash
# The reports of the full-budget deployment runs, made again after a deployment finishes (issue
# 15): the episodes of every exported deployment policy of BREMEN and ME-TRPO (20 each, as
# evaluated and with the deployments' exploration noise), the episodes of the batches those
# policies collected (launch/batch_report.py), BREMEN's policy moves, whether BREMEN's
# run repeats attempt 2 (launch/attempt_match.py), then results/full_budget.{md,csv,png}, README's
# verdicts and results/policies/ (launch/full_budget.py).
# Commit the code first: each file records the git revision that wrote it.
#   launch/full_budget_reports.sh                     # RUNS_ROOT=/work/runs by default
#   DRY_RUN=1 launch/full_budget_reports.sh           # print the commands only
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS_ROOT="${RUNS_ROOT:-/work/runs}"
BREMEN="$RUNS_ROOT/full/deployment/halfcheetah_200k/seed0"
ME_TRPO="$RUNS_ROOT/full/deployment/halfcheetah_200k+me_trpo/seed0"

policies=()
for run in "$BREMEN" "$ME_TRPO"; do  # each run's deployments in order, as the reports list them
  for dir in "$run"/policies/deployment_*; do
    [[ -d $dir ]] && policies+=("--policy_dir=$dir")
  done
done
batches=()  # the batches those policies collected (deployment 1's is uniform-random actions)
for run in "$BREMEN" "$ME_TRPO"; do
  for file in "$run"/data/deployment_*.npz; do
    [[ -f $file && $file != */deployment_1.npz ]] && batches+=("--data=$file")
  done
done
if ((${#policies[@]} == 0)); then
  echo "no exported deployment policy under $BREMEN or $ME_TRPO: nothing to report" >&2
  exit 2
fi
commands=(
  "python launch/episode_report.py ${policies[*]} --episodes=20 --tf_threads=1 --out=results/full_budget_episodes.md"
  "python launch/episode_report.py ${policies[*]} --episodes=20 --noise_std=0.1 --tf_threads=1 --out=results/full_budget_episodes_noise.md"
  "python launch/policy_moves.py --run_dir=$BREMEN --tf_threads=1 --out=results/full_budget_policy_moves.md"
)
if ((${#batches[@]} > 0)); then
  commands+=("python launch/batch_report.py ${batches[*]} --tf_threads=1 --out=results/full_budget_batches.md")
fi
if [[ -f $BREMEN/metrics.csv ]]; then  # attempt 2 ran BREMEN alone, on the same kind of CPU
  commands+=("python launch/attempt_match.py --run_dir=$BREMEN --attempt=results/full_budget_attempt2 --run_name=deployment/halfcheetah_200k/seed0 --out=results/full_budget_attempt_match.md")
fi
commands+=("python launch/full_budget.py")
for command in "${commands[@]}"; do
  echo "+ $command"
  if [[ -z "${DRY_RUN:-}" ]]; then
    $command
  fi
done
