/* parking.pml — the parking core's park / unpark / timeout handshake.
 *
 * Two threads wait for a gate the way Event.wait does: while the gate is
 * closed, park on its key with validate = "gate still closed". One of them
 * has a deadline (it may time out at any moment and then gives up). An
 * unparker first wakes one waiter with token 1 without opening the gate (the
 * woken thread re-checks and parks again), then opens the gate and wakes all
 * with token 2.
 *
 * Properties
 *   no_lost_wakeup        every run ends with all threads finished: the
 *                         untimed waiter is never left parked with the gate
 *                         open (spin's invalid-end-state check)
 *   token_exactly_once    a park() returns kUnparked iff an unparker took that
 *                         waiter off the queue, with that unparker's token;
 *                         kTimedOut/kInvalid only if none did (so a timed-out
 *                         waiter never swallows a wake-up); no waiter is
 *                         dequeued twice; per unpark call, tokens handed out ==
 *                         tokens received
 *
 * Mutations (-D): MUT_VALIDATE_OUTSIDE_LOCK, MUT_TIMEOUT_NO_WAIT, MUT_SLEEP_STORE
 */

#define NT   2
#define NKEY 1
#define NB   1
#define K    0
#define NU   1

bit gate = 0;
byte g_given[3];      /* tokens handed out per token value (1, 2) */
byte g_received[3];   /* tokens received per token value */

inline park_validate(me, key, ok) { ok = (gate == 0) }
inline park_enqueued(me, key) { skip }
inline park_before_sleep(me, key) { skip }
inline park_timed_out(me, key0, cur, last) { skip }

#include "parking_core.pml"

proctype Waiter(byte me; bool timed) {
  byte st, tok, b, s, i, j, k;
  bool ok, r, fr, asleep;
  do
  :: gate == 1 -> break
  :: else ->
     park(me, K, timed, st, tok, b, ok, r, s, fr, asleep, i, j, k);
     atomic {
       if
       :: st == ST_UNPARKED -> g_received[tok]++
       :: else -> skip
       fi;
       tok = 0
     };
     if
     :: st == ST_TIMEDOUT -> break   /* gave up */
     :: else -> st = 0
     fi
  od
}

/* unpark_n(K, n, [] { return tok; }) */
inline unpark_const(n, tok, u, nun, more, b, i, j, t, old) {
  b = bucket_of[K];
  lock_bucket(b);
  d_step { dequeue_n(b, K, n, u, nun, more, i, j, t); g_given[tok] = g_given[tok] + nun };
  hand_tokens_and_wake(b, u, nun, tok, i, old)
}

proctype Unparker() {
  byte nun, b, i, j, t, old;
  bool more;
  unpark_const(1, 1, 0, nun, more, b, i, j, t, old);   /* unpark_one, token 1 */
  gate = 1;
  unpark_const(NT, 2, 0, nun, more, b, i, j, t, old);  /* unpark_all, token 2 */
}

init {
  byte x;
  atomic {
    init_core(x);
    bucket_of[K] = 0;
    run Waiter(0, false);
    run Waiter(1, true);
    run Unparker()
  };
  _nr_pr == 1;
  assert(P_token_exactly_once && g_given[1] == g_received[1] && g_given[2] == g_received[2]);
  assert(P_final_state_clean && q[0].qn == 0)
}
