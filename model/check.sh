#!/usr/bin/env bash
# Runs every SPIN model check of model/ (see model/README.md): each model must
# verify exhaustively with no error; each deliberately broken variant (a
# mutation) must FAIL with the property meant to catch it; each probe (a race
# window marked in the model) must be reached. One line per check; exit status
# 1 on any unexpected result, 77 (skipped) when spin is not installed.
#   model/check.sh              every check
#   model/check.sh REGEX        only the checks whose name matches REGEX
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
filter=${1:-.}
if ! command -v spin >/dev/null || ! command -v gcc >/dev/null; then
  echo "model_check: SKIPPED: spin (and gcc) needed; scripts/setup.sh installs spin"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pythreading-model.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Exhaustive search (no BITSTATE). COLLAPSE only compresses stored states
# (lossless); MEMLIM stops a run before it takes more than 2 GiB, and a run
# that hits it counts as a failure, never as a pass.
# Mutations and probes stop at their first error, usually soon: for them a
# quick compile (-O0) beats a fast search.
PAN_CFLAGS=(-w -DSAFETY -DCOLLAPSE -DMEMLIM=2048)
PAN_RUN=(-m2000000)

# name ; model ; spin -D flags ; expected: "pass", or an ERE the error must match
checks=(
  "parking;parking.pml;;pass"
  "parking/MUT_VALIDATE_OUTSIDE_LOCK;parking.pml;-DMUT_VALIDATE_OUTSIDE_LOCK;invalid end state"
  "parking/MUT_TIMEOUT_NO_WAIT;parking.pml;-DMUT_TIMEOUT_NO_WAIT;P_token_exactly_once"
  "parking/MUT_SLEEP_STORE;parking.pml;-DMUT_SLEEP_STORE;invalid end state"
  "lock-3x1;lock.pml;-DNT=3 -DITER=1;pass"
  "lock-2x2;lock.pml;-DNT=2 -DITER=2;pass"
  "lock/MUT_LOCK_RELEASE_NO_UNPARK;lock.pml;-DMUT_LOCK_RELEASE_NO_UNPARK;invalid end state|P_final_state_clean"
  "lock/MUT_LOCK_HANDOFF_UNLOCKS;lock.pml;-DMUT_LOCK_HANDOFF_UNLOCKS;P_mutual_exclusion"
  "lock/MUT_LOCK_TIMEOUT_CLEARS_ALWAYS;lock.pml;-DMUT_LOCK_TIMEOUT_CLEARS_ALWAYS;invalid end state"
  "lock/MUT_LOCK_VALIDATE_LOCKED;lock.pml;-DMUT_LOCK_VALIDATE_LOCKED;invalid end state"
  "lock/MUT_VALIDATE_OUTSIDE_LOCK;lock.pml;-DMUT_VALIDATE_OUTSIDE_LOCK;invalid end state"
  "condition-notify1;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0;pass"
  "condition-notify2;condition.pml;-DNOTIFY_N=2 -DSPURIOUS=0;pass"
  "condition/MUT_COND_RELEASE_BEFORE_PARK;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0 -DMUT_COND_RELEASE_BEFORE_PARK;P_notify_exact"
  "condition/MUT_COND_NO_MARK_PARKED;condition.pml;-DNOTIFY_N=2 -DSPURIOUS=0 -DMUT_COND_NO_MARK_PARKED;invalid end state"
  "condition/MUT_COND_TIMEOUT_SWALLOWS;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0 -DMUT_COND_TIMEOUT_SWALLOWS;P_no_swallowed_notification"
  "condition/MUT_REQUEUE_OFF_BY_ONE;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0 -DMUT_REQUEUE_OFF_BY_ONE;P_notify_exact"
  "condition/MUT_REQUEUE_LIFO;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0 -DMUT_REQUEUE_LIFO;P_notify_exact"
  "condition/MUT_TIMEOUT_NO_WAIT;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0 -DMUT_TIMEOUT_NO_WAIT;P_token_exactly_once"
  "queue;queue.pml;;pass"
  "queue/MUT_PUBLISH_STORE;queue.pml;-DMUT_PUBLISH_STORE;invalid end state"
  "queue/MUT_COMMIT_STORE;queue.pml;-DMUT_COMMIT_STORE;invalid end state"
  "queue/MUT_QUEUE_TIMEOUT_RETURNS;queue.pml;-DMUT_QUEUE_TIMEOUT_RETURNS;P_outcome_exactly_once|P_no_touch_after_return"
  "reach/parking/1-timed-out-waiter-finds-itself-dequeued;parking.pml;-DPROBE_ID=1;probe!=1"
  "reach/parking/2-timed-out-waiter-leaves-queue;parking.pml;-DPROBE_ID=2;probe!=2"
  "reach/parking/3-validate-fails;parking.pml;-DPROBE_ID=3;probe!=3"
  "reach/parking/4-unparked-before-sleeping;parking.pml;-DPROBE_ID=4;probe!=4"
  "reach/parking/5-woken-by-futex-wake;parking.pml;-DPROBE_ID=5;probe!=5"
  "reach/lock/6-fair-hand-off;lock.pml;-DPROBE_ID=6;probe!=6"
  "reach/lock/7-last-timed-out-waiter-clears-parked-bit;lock.pml;-DPROBE_ID=7;probe!=7"
  "reach/condition/8-requeued-waiter-times-out-on-lock-queue;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0 -DPROBE_ID=8;probe!=8"
  "reach/condition/9-waiter-key-moves-while-it-locks-bucket;condition.pml;-DNOTIFY_N=1 -DSPURIOUS=0 -DPROBE_ID=9;probe!=9"
  "reach/queue/10-grant-published-to-a-watching-waiter;queue.pml;-DPROBE_ID=10;probe!=10"
  "reach/queue/11-grant-published-through-the-bucket;queue.pml;-DPROBE_ID=11;probe!=11"
  "reach/queue/12-timed-out-waiter-already-granted-waits;queue.pml;-DPROBE_ID=12;probe!=12"
  "reach/queue/13-timed-out-waiter-unlinks-itself;queue.pml;-DPROBE_ID=13;probe!=13"
)

failures=0
ran=0
for c in "${checks[@]}"; do
  IFS=';' read -r name model flags expect <<<"$c"
  [[ $name =~ $filter ]] || continue
  ran=$((ran + 1))
  dir=$work/$ran
  mkdir -p "$dir"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  if ! (cd "$dir" && spin $flags -a "$here/$model" >spin.log 2>&1 &&
        gcc "$([[ $expect == pass ]] && echo -O2 || echo -O0)" "${PAN_CFLAGS[@]}" -o pan pan.c >gcc.log 2>&1); then
    echo "FAIL  $name: model did not build"; cat "$dir"/spin.log "$dir"/gcc.log 2>/dev/null | tail -5
    failures=$((failures + 1)); continue
  fi
  (cd "$dir" && ./pan "${PAN_RUN[@]}" >pan.log 2>&1)
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  log=$dir/pan.log
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | head -1)
  states=$(awk '/states, stored/ { print $1; exit }' "$log")
  incomplete=$(grep -E "reached -DMEMLIM bound|max search depth too small|out of memory" "$log" | head -1)
  what=$(grep -E "^pan:1: " "$log" | head -1 | sed 's/^pan:1: //; s/ (at depth [0-9]*)//')
  if [[ $expect == pass ]]; then
    if [[ $errors == 0 && -z $incomplete ]]; then
      printf 'PASS  %-62s verified, %s states, %ss\n' "$name" "$states" "$secs"
    else
      printf 'FAIL  %-62s %s, %s states, %ss\n' "$name" "${what:-${incomplete:-no result}}" "$states" "$secs"
      grep -E "^pan|errors" "$log" | head -5
      failures=$((failures + 1))
    fi
  else
    if [[ ${errors:-0} -gt 0 && $what =~ $expect ]]; then
      printf 'PASS  %-62s fails as it must: %s, %s states, %ss\n' "$name" "$what" "$states" "$secs"
    else
      printf 'FAIL  %-62s expected an error matching /%s/, got: %s, %s states, %ss\n' \
        "$name" "$expect" "${what:-${incomplete:-no error}}" "$states" "$secs"
      failures=$((failures + 1))
    fi
  fi
done
echo "model_check: $ran checks, $failures unexpected"
[[ $ran -gt 0 && $failures -eq 0 ]]
