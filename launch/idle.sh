#!/usr/bin/env bash
# Runs a command at idle CPU priority, so that it takes only the CPU that other work leaves, the
# work of other sessions included:
#   launch/idle.sh launch/coverage_runs.sh offline     # issue 20's runs beside the long-run lanes
#   launch/idle.sh python bench/bench_bremen.py
# Why `nice -n 19` alone is not enough: Linux kernels that group CPU time by session (autogroup:
# /proc/sys/kernel/sched_autogroup_enabled is 1, the default of most distributions) give each
# session an equal share first, and nice orders processes only within a session. Beside the two
# long-run lanes (each its own session, launch/long_runs.sh) a nice-19 busy loop started from a
# terminal got 71% of a core on our 2-core machine; started as this script starts it (a session of
# its own whose autogroup nice is 19) it got 2.9% (measured 2026-12-07). Without autogroup the
# script is plain `nice -n 19`. Ctrl-C or a TERM stops the whole command; its exit status is the
# command's.
set -uo pipefail
if (($# == 0)); then
  echo "usage: launch/idle.sh COMMAND [ARGS...]" >&2
  exit 2
fi
# setsid makes a new session (so a new autogroup); writing 19 to /proc/self/autogroup lowers that
# group's share (allowed without privileges: it only lowers).
setsid --wait bash -c 'echo 19 > /proc/self/autogroup 2> /dev/null || true; exec nice -n 19 "$@"' \
    idle "$@" &
pid=$!
stop() { kill -TERM -- "-$pid" 2> /dev/null || kill -TERM "$pid" 2> /dev/null; }
trap stop INT TERM
status=0
wait "$pid" || status=$?
while kill -0 "$pid" 2> /dev/null; do  # a trapped signal ended the first wait: wait for the exit
  wait "$pid" || status=$?
done
exit "$status"
