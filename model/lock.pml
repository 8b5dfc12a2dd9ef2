/* lock.pml — threading::Lock on the parking core.
 *
 * NT threads (default 3) each acquire the lock ITER times (default 1), hold it
 * briefly and release it. Thread 1 acquires with a timeout (it may time out
 * at any moment, then skips that round); the others wait forever.
 *
 * Properties
 *   mutual_exclusion      at most one thread holds the lock, and a holder
 *                         always finds the locked bit set
 *   no_lost_wakeup        every run ends with all threads finished: no thread
 *                         stays parked while the lock is free (spin's
 *                         invalid-end-state check)
 *   final_state_clean     at the end the lock word is 0 (no stale parked bit)
 *                         and no one is queued
 *   token_exactly_once    as in parking.pml (the hand-off token reaches exactly
 *                         the thread that was dequeued for it)
 *
 * Mutations (-D): MUT_LOCK_RELEASE_NO_UNPARK, MUT_LOCK_HANDOFF_UNLOCKS,
 * MUT_LOCK_TIMEOUT_CLEARS_ALWAYS, MUT_LOCK_VALIDATE_LOCKED, and the core's
 * MUT_VALIDATE_OUTSIDE_LOCK.
 */

#ifndef NT
#define NT 3
#endif
#ifndef ITER
#define ITER 1
#endif
#define NKEY 1
#define NB   1
#define KEY_L 0

byte cs = 0;                       /* threads inside the critical section */

inline park_validate(me, key, ok) { lock_validate(ok) }
inline park_enqueued(me, key) { skip }
inline park_before_sleep(me, key) { skip }
inline park_timed_out(me, key0, cur, last) { lock_waiter_timed_out(last) }

#include "parking_core.pml"
#include "lock_protocol.pml"

proctype Thread(byte me; bool timed) {
  byte n, st, tok, b, s, s2, i, j, k, t, old, nun;
  bool got, cas, ok, r, fr, asleep, more, fair, wl2;
  n = 0;
  do
  :: n < ITER ->
     lock_acquire(me, timed, got, s2, cas, st, tok, b, ok, r, s, fr, asleep, i, j, k);
     if
     :: got ->
        atomic { cs++; assert(P_mutual_exclusion && cs == 1 && (lstate & kLocked) != 0) };
        cs--;
        lock_release(me, wl2, s2, cas, nun, more, fair, tok, b, i, j, t, old);
        wl2 = false
     :: else -> assert(timed)
     fi;
     got = false;
     n++
  :: else -> break
  od
}

init {
  byte x;
  atomic {
    init_core(x);
    bucket_of[KEY_L] = 0;
    x = 0;
    do
    :: x < NT -> run Thread(x, x == 1); x++
    :: else -> break
    od;
  };
  _nr_pr == 1;
  assert(P_final_state_clean && lstate == 0 && q[0].qn == 0)
}
