#!/usr/bin/env bash
# The long runs (issue 15's full budget, then issues 16 and 20's reduced-budget coverage runs) in two
# lanes, one per core, from a frozen worktree: one command on any machine, kept in the repo because a
# script beside the run directories dies with the machine (it did on 2026-12-04).
#
#   launch/long_runs.sh start     # both lanes in the background; resumes whatever is unfinished
#   launch/long_runs.sh status    # each lane's runs: finished, running (stage), not started; then
#                                 # each unfinished run's progress and hours left (run_progress.py)
#   launch/long_runs.sh stop      # each run stops right after its next checkpoint; waits for the exits
#   python launch/run_archive.py save   # before a session ends: finished runs into results/runs/
#                                       # (commit it; `start` restores them on a new machine)
#   `stop` also saves the unfinished deployment runs' waypoints into results/waypoints/ (commit
#   them too; `start` restores them on a new machine: launch/waypoint.py, bremen_tf/waypoints.py)
#   DRY_RUN=1 launch/long_runs.sh start   # the commands, nothing started
#
# A lane works through its own list in order, then takes shared entries (SHARED, below) that no
# lane has taken since the last start: it skips finished runs (DONE), resumes unfinished ones, and
# goes on with its next entry when one fails (a run that exits without DONE, a coverage group that
# fails: its log says why; `status` marks it; the next start tries it again), so one failure does
# not leave a core idle until someone looks. Every run has one TF thread
# (two runs on two cores beat one run on two threads). Settings (environment):
#   RUNS_COMMIT  the commit the runs run (default below: the one that started the current runs;
#                a newer one may be adopted only if it keeps checkpoints compatible and is exact)
#   RUNS_ROOT    run directories, logs, datasets (default /work/runs; never inside a checkout)
#   FROZEN       the worktree at RUNS_COMMIT (default /work/frozen/<RUNS_COMMIT>; made if missing)
#   COVERAGE_COMMIT  the commit the coverage groups run (default below). They start fresh runs,
#                so they may take a newer commit than the long runs, which stay on theirs; move it
#                to the newest main whose CI passed before they start.
#   COVERAGE_TREE    its worktree (default /work/frozen/<COVERAGE_COMMIT>; made if missing)
# The runs never run from the checkout you edit: a module imported late reads whatever the
# checkout holds then (and autograph, in the model-free training loop, reads source at trace time).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"  # status reads with it; a lane runs the frozen copy
RUNS_COMMIT="${RUNS_COMMIT:-88484e7}"  # 2026-12-06 night: attempt 4 starts on a new machine (CI green)
RUNS_ROOT="${RUNS_ROOT:-/work/runs}"
FROZEN="${FROZEN:-/work/frozen/$RUNS_COMMIT}"
COVERAGE_COMMIT="${COVERAGE_COMMIT:-88484e7}"  # 2026-12-06 night (CI green); the d4rl sweep ran on b86640d, then ca88bbf; FetchReach on d1d1684
COVERAGE_TREE="${COVERAGE_TREE:-/work/frozen/$COVERAGE_COMMIT}"
PY="${PYTHON:-python}"
WAYPOINTS="${WAYPOINTS:-$REPO/results/waypoints}"  # the unfinished runs' waypoints (launch/waypoint.py)
LANES="$RUNS_ROOT/lanes"   # <lane>.pid: the lane's loop; <lane>.run: "<pid> <run dir>" of its run
FULL="$RUNS_ROOT/full"
STOP_WAIT_SECONDS="${STOP_WAIT_SECONDS:-1200}"  # the longest stop waits for a checkpoint
WAIT_SECONDS="${WAIT_SECONDS:-300}"  # a lane with only a deferred entry left looks again this often

# A lane entry: "<run dir under $FULL>|<launcher and gin files>", or "coverage|<groups of
# launch/coverage_runs.sh>" (resumable itself; its run directories live in $RUNS_ROOT/coverage).
# The order follows what a machine's life allows: this machine and its run directories have been
# replaced twice (2026-12-04 after 10 sessions, 2026-12-05), each time losing every unfinished
# run, and a run only moves while a session lasts (at most 3 h). A finished run's light files go
# into the repo (launch/run_archive.py save; `start` restores them, so it never runs again); an
# unfinished one cannot. So one lane runs the full-budget runs, the offline HalfCheetah cell first
# (about 8 core-hours, the one full-budget cell that has never finished; offline Hopper finished in
# attempt 2: results/full_budget_attempt2/), then BREMEN's deployments (35-70 core-hours, lost
# twice at deployments 3-4: it needs a machine that lasts 12-25 sessions); the other lane runs
# issues 16 and 20's reduced-budget runs, each of at most about 2 core-hours and kept as it ends.
LANE_A=(
  "offline/halfcheetah_100k/seed0|launch/offline.py --gin_file=gin/halfcheetah_100k.gin"
  "deployment/halfcheetah_200k/seed0|launch/deployment.py --gin_file=gin/deployment/halfcheetah_200k.gin"
)
# Lane B: HandReach (about 2.4 core-hours) while BREMEN's deployment-1 fit runs, then ME-TRPO's
# deployments, started as soon as that fit is in the dynamics cache (it waits for it: see
# waits_for_shared_fit), so that the two deployment runs go side by side for the rest of the
# machine's life; then the shared entries.
LANE_B=(
  "coverage|handreach"
  "deployment/halfcheetah_200k+me_trpo/seed0|launch/deployment.py --gin_file=gin/deployment/halfcheetah_200k.gin --gin_file=gin/deployment/me_trpo.gin"
)
# Then, whichever lane is free: the D4RL and FetchReach groups (finished on earlier machines:
# restored from results/runs/, so they only check), issue 20's other groups, the tables (the
# `tables` group waits until every coverage group before it has finished: the lane that ends the
# last of them runs it; a lane waiting for it takes the entries after it meanwhile), online SAC,
# offline Hopper again (its finished attempt-2 run left only its generated tables), the guarded
# variant of the offline HalfCheetah cell (launch/full_budget.py --variants), and second seeds of
# the offline cells (issue 15: "more seeds beat more cells"). Until 2026-12-06 ME-TRPO's
# deployments were a shared entry that a lane took once BREMEN's fit was cached, taking the next
# entries meanwhile; on a fresh machine that put issue 20's 13-core-hour offline group before it.
SHARED=(
  "coverage|d4rl"
  "coverage|fetchreach"
  "coverage|offline"
  "coverage|ablation"
  "coverage|sac"
  "coverage|tables"
  "sac/halfcheetah/seed0|launch/train_behavior.py --gin_file=gin/deployment/sac_halfcheetah.gin"
  "offline/hopper_100k/seed0|launch/offline.py --gin_file=gin/hopper_100k.gin"
  "$RUNS_ROOT/guard/halfcheetah_100k_data_box/seed0|launch/offline.py --gin_file=gin/evidence/halfcheetah_100k_data_box.gin --gin_bindings=train_offline.dynamics_cache_dir='$RUNS_ROOT/guard/dynamics_cache'"
  "offline/halfcheetah_100k/seed1|launch/offline.py --gin_file=gin/halfcheetah_100k.gin --seed=1"
  "offline/hopper_100k/seed1|launch/offline.py --gin_file=gin/hopper_100k.gin --seed=1"
)
CLAIMS="$LANES/claims"  # <i>/: SHARED[i] taken (by the lane in <i>/lane); <i>/done: it finished

# A lane entry's run directory: relative to $FULL, or an absolute path (a variant's, elsewhere).
run_path() { if [[ $1 == /* ]]; then echo "$1"; else echo "$FULL/$1"; fi; }
# Its log: $RUNS_ROOT/logs/<its path under $RUNS_ROOT or $FULL, / -> _>.log
run_log() { local d="${1#"$RUNS_ROOT"/}"; d="${d#/}"; echo "$RUNS_ROOT/logs/${d//\//_}.log"; }

alive() { [[ -f "$1" ]] && kill -0 "$(cut -d' ' -f1 "$1")" 2> /dev/null; }

lane_entries() {  # A, B or shared
  local -a entries
  case $1 in
    A) entries=("${LANE_A[@]}") ;;
    B) entries=("${LANE_B[@]}") ;;
    *) entries=("${SHARED[@]}") ;;
  esac
  ((${#entries[@]})) || return 0  # an empty lane lists nothing (printf would print one empty line)
  printf '%s\n' "${entries[@]}"
}

# tree_at TREE COMMIT: the frozen worktree TREE at COMMIT (made if missing); its runs/ points into
# RUNS_ROOT/coverage so that a newer tree resumes the coverage runs.
tree_at() {
  local tree=$1 commit=$2 head
  if [[ ! -d "$tree" ]]; then
    git -C "$REPO" worktree add --detach "$tree" "$commit" > /dev/null
  fi
  head="$(git -C "$tree" rev-parse HEAD)"
  if [[ "$head" != "$(git -C "$REPO" rev-parse "$commit^{commit}")" ]]; then
    echo "$tree is at $head, not at $commit: set FROZEN or COVERAGE_TREE to another path" >&2
    exit 2
  fi
  # results/ is left out: the coverage groups' tables group writes the tables there (copy them to
  # main from it, or regenerate them there from the run directories)
  if [[ -n "$(git -C "$tree" status --porcelain --untracked-files=no -- . ':(exclude)results')" ]]; then
    echo "$tree has edits to tracked files: the runs run committed code only" >&2
    exit 2
  fi
  [[ -e "$tree/runs" ]] || ln -s "$RUNS_ROOT/coverage" "$tree/runs"
}

# The frozen trees of the long runs and of the coverage groups, and the directories they write.
make_tree() {
  mkdir -p "$FULL" "$RUNS_ROOT/logs" "$RUNS_ROOT/coverage" "$RUNS_ROOT/datasets" "$RUNS_ROOT/minari" \
      "$RUNS_ROOT/dynamics_cache" "$LANES"
  tree_at "$FROZEN" "$RUNS_COMMIT"
  [[ "$COVERAGE_TREE" == "$FROZEN" ]] || tree_at "$COVERAGE_TREE" "$COVERAGE_COMMIT"
}

# run_entry LANE ENTRY: one lane entry (a run, or coverage groups) in the lane, waited for; fails
# unless it finished (DONE; coverage_runs.sh's exit status).
run_entry() {
  local lane=$1 entry=$2 dir cmd pid status path
  dir="${entry%%|*}" cmd="${entry#*|}"
  if [[ $dir == coverage ]]; then
    echo "[lane $lane] $(date -Is) coverage groups: $cmd"
    # coverage_runs.sh runs in its own tree, on its PYTHONPATH
    # shellcheck disable=SC2086
    PYTHONPATH="$COVERAGE_TREE" "$COVERAGE_TREE/launch/coverage_runs.sh" $cmd \
        >> "$RUNS_ROOT/logs/coverage_${cmd// /_}.log" 2>&1 &
    pid=$!
    echo "$pid coverage" > "$LANES/$lane.run"  # stop ends its whole process group (sweep, runs)
    if ! wait $pid; then echo "[lane $lane] $(date -Is) coverage $cmd failed: going on"; return 1; fi
    return 0
  fi
  path="$(run_path "$dir")"
  if [[ -e "$path/DONE" ]]; then echo "[lane $lane] $dir finished already"; return 0; fi
  echo "[lane $lane] $(date -Is) $dir: $cmd"
  # shellcheck disable=SC2086
  "$PY" $cmd --tf_threads=1 --root_dir="$path" >> "$(run_log "$dir")" 2>&1 &
  pid=$!
  echo "$pid $path" > "$LANES/$lane.run"
  status=0
  wait $pid || status=$?
  if [[ ! -e "$path/DONE" ]]; then
    echo "[lane $lane] $(date -Is) $dir exited ($status) without DONE: going on"
    return 1
  fi
}

# waits_for_shared_fit ENTRY: true for an ME-TRPO deployment run while a lane runs its BREMEN twin
# (the same run directory without "+me_trpo") and the twin has not finished its deployment-1
# dynamics fit. That fit is ME-TRPO's too (the same uniform-random batch), reused through the
# dynamics cache once BREMEN has saved it; started before then, ME-TRPO would make the same fit
# (4-5 core-hours) again, and throw its partial fit away when it resumes and finds the cache.
waits_for_shared_fit() {
  local dir="${1%%|*}" twin lane pid running
  [[ $dir == *+me_trpo/* ]] || return 1
  twin="$(run_path "${dir/+me_trpo/}")"
  for lane in A B; do
    alive "$LANES/$lane.run" || continue
    read -r pid running < "$LANES/$lane.run"
    [[ $running == "$twin" ]] || continue
    [[ -f "$twin/train_state.json" ]] || return 0  # it has only just started
    [[ "$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))
print("fitting" if s.get("deployment", 1) == 1 and s.get("stage") in ("start", "collected", "dynamics_fit") else "")' \
          "$twin/train_state.json" 2> /dev/null)" == fitting ]] && return 0
  done
  return 1
}

# claim_shared LANE: prints the index of the SHARED entry the lane has just claimed (mkdir is
# atomic, so two free lanes never take the same one); "wait" when the only entries left for it
# are waiting for a shared fit (above); nothing when none is left for it.
claim_shared() {
  local lane=$1 i j ready waiting=
  for i in "${!SHARED[@]}"; do
    [[ -d "$CLAIMS/$i" ]] && continue
    if waits_for_shared_fit "${SHARED[i]}"; then waiting=1; continue; fi
    if [[ ${SHARED[i]} == "coverage|tables" ]]; then  # once every coverage group before it finished
      ready=1
      for ((j = 0; j < i; j++)); do
        [[ ${SHARED[j]} != coverage\|* || -e "$CLAIMS/$j/done" ]] || ready=
      done
      [[ -n $ready ]] || continue
    fi
    if mkdir "$CLAIMS/$i" 2> /dev/null; then
      echo "$lane" > "$CLAIMS/$i/lane"
      echo "$i"
      return
    fi
  done
  if [[ -n $waiting ]]; then echo wait; fi
}

# run_lane LANE: the lane's loop (runs in the background, in the frozen tree): its own entries,
# then SHARED entries until none is left for it.
run_lane() {
  local lane=$1 entry i
  cd "$FROZEN"
  export PYTHONPATH="$FROZEN" BREMEN_TF_DATA_DIR="$RUNS_ROOT/datasets" MINARI_DATASETS_PATH="$RUNS_ROOT/minari"
  # BREMEN and ME-TRPO collect the same deployment-1 batch: one fit serves both (speed only)
  export BREMEN_TF_DYNAMICS_CACHE_DIR="$RUNS_ROOT/dynamics_cache"
  while IFS= read -r entry; do
    while waits_for_shared_fit "$entry"; do
      echo "[lane $lane] $(date -Is) ME-TRPO waits for BREMEN's deployment-1 fit (shared through the dynamics cache); looking again in ${WAIT_SECONDS}s"
      sleep "$WAIT_SECONDS"
    done
    run_entry "$lane" "$entry" || true  # failed: said in the log; the next start tries it again
  done < <(lane_entries "$lane")
  while i="$(claim_shared "$lane")" && [[ -n $i ]]; do
    if [[ $i == wait ]]; then
      echo "[lane $lane] $(date -Is) ME-TRPO waits for BREMEN's deployment-1 fit (shared through the dynamics cache); looking again in ${WAIT_SECONDS}s"
      sleep "$WAIT_SECONDS"
      continue
    fi
    if run_entry "$lane" "${SHARED[i]}"; then touch "$CLAIMS/$i/done"
    else touch "$CLAIMS/$i/failed"; fi  # never done: the tables wait for the next start
  done
  echo "[lane $lane] $(date -Is) all done (nothing left that this lane may take)"
}

start() {
  local lane
  for lane in A B; do
    if alive "$LANES/$lane.pid" || alive "$LANES/$lane.run"; then
      echo "lane $lane is running already (launch/long_runs.sh status)" >&2
      exit 2
    fi
  done
  if [[ -n "${DRY_RUN:-}" ]]; then
    for lane in A B shared; do
      if [[ $lane == shared ]]; then echo "then, whichever lane is free first:"
      else echo "lane $lane (tree $FROZEN, commit $RUNS_COMMIT):"; fi
      lane_entries "$lane" | while IFS= read -r entry; do
        dir="${entry%%|*}" cmd="${entry#*|}"
        if [[ $dir == coverage ]]; then
          echo "  launch/coverage_runs.sh $cmd (tree $COVERAGE_TREE, commit $COVERAGE_COMMIT)"
        elif [[ -e "$(run_path "$dir")/DONE" ]]; then echo "  (finished) $dir"
        else echo "  $PY $cmd --tf_threads=1 --root_dir=$(run_path "$dir")"; fi
      done
    done
    return
  fi
  make_tree
  # the finished runs of earlier machines, from the repo (results/runs/): never run again
  "$PY" "$REPO/launch/run_archive.py" restore --runs_root="$RUNS_ROOT"
  # the unfinished deployment runs of earlier machines, from their waypoints (results/waypoints/):
  # each resumes where its waypoint was saved (its batches are collected again first)
  if ! "$PY" "$REPO/launch/waypoint.py" restore --runs_root="$RUNS_ROOT" --archive="$WAYPOINTS"; then
    echo "no lane started: a waypoint could not be restored (above). Mend it, or move it out of" \
         "$WAYPOINTS to let its run start from scratch, then start again." >&2
    exit 2
  fi
  rm -rf "$CLAIMS" && mkdir "$CLAIMS"  # no lane runs: the shared entries are free again (each resumes)
  # The lanes run a copy of this script: bash reads a script as it runs, so an edit of the
  # checkout's copy under a running lane would change what it does next.
  cp "$0" "$LANES/long_runs.sh"
  for lane in A B; do
    RUNS_COMMIT="$RUNS_COMMIT" RUNS_ROOT="$RUNS_ROOT" FROZEN="$FROZEN" \
        COVERAGE_COMMIT="$COVERAGE_COMMIT" COVERAGE_TREE="$COVERAGE_TREE" setsid nohup \
        bash "$LANES/long_runs.sh" _lane "$lane" >> "$RUNS_ROOT/logs/lanes.log" 2>&1 < /dev/null &
    echo "$!" > "$LANES/$lane.pid"
  done
  echo "started lanes A and B from $FROZEN ($RUNS_COMMIT; coverage groups from $COVERAGE_TREE," \
       "$COVERAGE_COMMIT); log $RUNS_ROOT/logs/lanes.log"
}

status() {
  local lane entry dir state i=0 taker claim path log last running group line
  local -a estimate=()  # unfinished runs that describe themselves (run.json): launch/run_progress.py
  local -A progress=()  # coverage group -> "k of n runs finished..." (coverage_runs.sh PROGRESS=1)
  if [[ -d "$RUNS_ROOT/coverage" ]]; then  # counted with this checkout's grids (~4 s)
    while IFS= read -r line; do
      [[ $line == *"runs finished"* ]] && progress[${line%%:*}]="${line#*: }"
    done < <(PROGRESS=1 COVERAGE_RUNS="$RUNS_ROOT/coverage" PYTHONPATH="$REPO" \
                 bash "$REPO/launch/coverage_runs.sh" 2> /dev/null || true)
  fi
  for lane in A B shared; do
    if [[ $lane == shared ]]; then echo "then, whichever lane is free first:"
    else echo "lane $lane: $(alive "$LANES/$lane.pid" && echo running || echo stopped)"; fi
    while IFS= read -r entry; do
      dir="${entry%%|*}" claim="" running=$lane last=""
      if [[ $lane == shared ]]; then  # which lane took it since the last start
        running=""
        if [[ -d "$CLAIMS/$i" ]]; then
          taker="$(cat "$CLAIMS/$i/lane" 2> /dev/null || echo '?')"
          if [[ -e "$CLAIMS/$i/done" ]]; then claim=" (lane $taker, finished)"
          elif [[ -e "$CLAIMS/$i/failed" ]]; then claim=" (lane $taker, failed: see its log)"
          else claim=" (lane $taker)" running=$taker; fi
        fi
        i=$((i + 1))
      fi
      if [[ $dir == coverage ]]; then
        state=""
        if [[ -n $running ]] && alive "$LANES/$running.run" \
            && [[ "$(cut -d' ' -f2- "$LANES/$running.run")" == coverage ]]; then state=": running"; fi
        echo "  coverage ${entry#*|}$state$claim"
        for group in ${entry#*|}; do
          [[ -n "${progress[$group]:-}" ]] && echo "      $group: ${progress[$group]}"
        done
        continue
      fi
      path="$(run_path "$dir")"
      if [[ -e "$path/DONE" ]]; then state=finished
      elif [[ -f "$path/train_state.json" ]]; then
        state="$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(" ".join(f"{k} {s[k]}" for k in ("stage", "deployment", "iteration") if k in s))' "$path/train_state.json")"
        [[ -f "$path/run.json" ]] && estimate+=("$path")
      else state="not started"; fi
      if [[ $state == "not started" && -z $claim ]] && waits_for_shared_fit "$entry"; then
        state="not started: waits for BREMEN's deployment-1 fit, which it reuses"
      fi
      log="$(run_log "$dir")"
      if [[ -n $running ]] && alive "$LANES/$running.run" \
          && [[ "$(cut -d' ' -f2- "$LANES/$running.run")" == "$path" ]]; then
        [[ $state == "not started" ]] && state="no stage saved yet"
        state="running, $state"
        # its latest progress line (epoch or iteration, with the ETA)
        [[ -f "$log" ]] && last="$(grep -E '^\[' "$log" | tail -n 1 | cut -c1-200 || true)"
      fi
      echo "  $dir: $state$claim"
      [[ -n "$last" ]] && echo "      $last"
    done < <(lane_entries "$lane")
  done
  if ((${#estimate[@]})); then  # how far each got and how long it still needs (imports TF: ~7 s)
    echo "progress and estimates (launch/run_progress.py):"
    "$PY" "$REPO/launch/run_progress.py" "${estimate[@]}" | sed 's/^/  /' || true
  fi
  # finished here but not in the repo yet: lost with this machine unless saved and committed
  "$PY" "$REPO/launch/run_archive.py" list --runs_root="$RUNS_ROOT" | tail -n 1 || true
  # the unfinished runs' waypoints: what a new machine would resume them from
  "$PY" "$REPO/launch/waypoint.py" list --runs_root="$RUNS_ROOT" --archive="$WAYPOINTS" | sed 's/^/waypoint: /' || true
}

# stop: the lanes' loops first (so no next run starts), then each run right after its next
# checkpoint (train_state.json written; the runs are watched side by side), so a stop loses seconds.
stop() {
  local lane pid dir waited=0
  declare -A since=()
  for lane in A B; do
    if alive "$LANES/$lane.pid"; then kill "$(cat "$LANES/$lane.pid")"; fi
  done
  for lane in A B; do
    alive "$LANES/$lane.run" || continue
    read -r pid dir < "$LANES/$lane.run"
    if [[ $dir != coverage && -f "$dir/train_state.json" ]]; then
      since[$lane]="$(stat -c %y "$dir/train_state.json")"
      echo "lane $lane: waiting for $dir's next checkpoint (at most ${STOP_WAIT_SECONDS} s)"
    else
      since[$lane]=none  # nothing to wait for
    fi
  done
  while ((${#since[@]})); do
    for lane in "${!since[@]}"; do
      read -r pid dir < "$LANES/$lane.run"
      if [[ ${since[$lane]} == none || $waited -ge $STOP_WAIT_SECONDS ]] || ! kill -0 "$pid" 2> /dev/null \
          || [[ "$(stat -c %y "$dir/train_state.json")" != "${since[$lane]}" ]]; then
        [[ ${since[$lane]} == none ]] || sleep 2  # train_state.json is the last file a checkpoint writes
        if [[ $dir == coverage ]]; then  # the lane's process group: coverage_runs.sh, the sweep, its runs
          kill -TERM -- "-$(cat "$LANES/$lane.pid")" 2> /dev/null || true
        else
          kill -TERM "$pid" 2> /dev/null || true
        fi
        unset "since[$lane]"
      fi
    done
    ((${#since[@]})) && { sleep 5; waited=$((waited + 5)); }
  done
  for lane in A B; do
    while alive "$LANES/$lane.run"; do sleep 1; done
  done
  echo "stopped"
  # the unfinished deployment runs' waypoints, now that nothing writes their checkpoints
  # (SKIP_WAYPOINTS=1: none); commit results/waypoints/ with the session's work
  [[ -n "${SKIP_WAYPOINTS:-}" ]] || "$PY" "$REPO/launch/waypoint.py" save --runs_root="$RUNS_ROOT" --archive="$WAYPOINTS" || true
}

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  _lane) run_lane "$2" ;;
  _trees) make_tree ;;  # the frozen trees only (tests/test_long_runs.py)
  *) echo "usage: launch/long_runs.sh start|status|stop" >&2; exit 2 ;;
esac
