/* queue.pml — how a queue grant reaches a blocked thread (src/queue.cpp:
 * QueueCore::wait, publish, commit_to_park), on the parking core.
 *
 * Two threads are blocked in get() (listed on the queue's getter list, the
 * queue lock released); waiter 0 has a deadline. Each waits on its own
 * record's state word: it first watches it (may see the outcome there), then
 * parks with validate = commit_to_park (kWaiting -> kParked, or already
 * kParked). A putter grants two items, each under the queue lock to the oldest
 * listed waiter, and publishes each grant after unlocking: one CAS kWaiting ->
 * outcome, and only if that fails (kParked) unpark_one with the outcome stored
 * in the callback. A waiter whose park timed out takes the queue lock: still
 * listed, it unlinks itself and reports the timeout; not listed, its grant is
 * on the way and it waits for the outcome.
 *
 * Properties
 *   no_lost_wakeup        every run ends with all threads finished (spin's
 *                         invalid-end-state check)
 *   outcome_exactly_once  a waiter returns the outcome iff it was granted, and
 *                         reports a timeout iff it was not
 *   no_touch_after_return the putter never touches a record (its CAS, its
 *                         unpark callback) after the waiter has returned
 *   token_exactly_once    the parking core's, as in parking.pml
 *
 * Mutations (-D): MUT_PUBLISH_STORE, MUT_COMMIT_STORE, MUT_QUEUE_TIMEOUT_RETURNS
 */

#define NT   2
#define NKEY 2   /* key w = waiter w's record state word */
#define NB   2
#define NU   1

#define kWaiting 0
#define kGranted 1
#define kParked  5

byte state[NT];        /* Waiter::state */
bool listed[NT];       /* Waiter::listed (queue lock) */
byte order[NT];        /* the getter list, oldest first (NIL: empty) */
bool qlk = false;      /* the queue's internal Lock */
/* Ghosts */
bool granted[NT];      /* the putter granted this waiter */
bool returned[NT];     /* wait() has returned: the record is gone */
hidden byte P_outcome_exactly_once = 1;
hidden byte P_no_touch_after_return = 1;

inline park_validate(me, key, ok) {
  /* commit_to_park(state) */
#ifdef MUT_COMMIT_STORE
  /* MUTATION: a plain store of kParked, over an outcome published meanwhile. */
  state[key] = kParked; ok = true
#else
  atomic {   /* one compare-exchange */
    if
    :: state[key] == kWaiting -> state[key] = kParked; ok = true
    :: state[key] == kParked -> ok = true
    :: else -> ok = false
    fi
  }
#endif
}
inline park_enqueued(me, key) { skip }
inline park_before_sleep(me, key) { skip }
inline park_timed_out(me, key0, cur, last) { skip }

#include "parking_core.pml"

inline qlock() { atomic { !qlk -> qlk = true } }
inline qunlock() { qlk = false }

#define IS_OUTCOME(s) ((s) != kWaiting && (s) != kParked)

proctype Waiter(byte me; bool timed) {
  byte st, tok, b, s, i, j, k, mykey;
  bool ok, r, fr, asleep, timed_out;
  mykey = me;   /* the key: its record's state word */
  /* The watch (pl::watch): it may see the outcome before parking. */
  if
  :: IS_OUTCOME(state[me]) -> goto done
  :: true -> skip
  fi;
  do
  :: park(me, mykey, timed, st, tok, b, ok, r, s, fr, asleep, i, j, k);
     if
     :: IS_OUTCOME(state[me]) -> break
     :: else ->
        if
        :: st != ST_TIMEDOUT -> skip   /* spurious: park again */
        :: else ->
           qlock();
           if
           :: listed[me] ->
              PROBE(13);
              d_step {
                listed[me] = false;
                if
                :: order[0] == me -> order[0] = order[1]; order[1] = NIL
                :: else -> order[1] = NIL
                fi
              };
              qunlock();
              timed_out = true;
              break
           :: else ->
              PROBE(12);
              qunlock();
#ifdef MUT_QUEUE_TIMEOUT_RETURNS
              /* MUTATION: report the timeout though the grant is on its way. */
              timed_out = true;
              break
#else
              do
              :: IS_OUTCOME(state[me]) -> break
              :: else -> park(me, mykey, false, st, tok, b, ok, r, s, fr, asleep, i, j, k)
              od;
              break
#endif
           fi
        fi
     fi
  od;
done:
  atomic {
    assert(P_outcome_exactly_once && timed_out == !granted[me]);
    assert(P_outcome_exactly_once && timed_out || IS_OUTCOME(state[me]));
    returned[me] = true
  }
}

/* unpark_one(&state[w], [] { state[w] = kGranted; }) */
inline unpark_publish(w, u, nun, more, b, i, j, t, old) {
  b = bucket_of[w];
  lock_bucket(b);
  d_step {
    dequeue_n(b, w, 1, u, nun, more, i, j, t);
    assert(P_no_touch_after_return && !returned[w]);
    state[w] = kGranted
  };
  PROBE(11);
  hand_tokens_and_wake(b, u, nun, 0, i, old)
}

proctype Putter() {
  byte n, w, nun, b, i, j, t, old;
  bool more, cas;
  n = 0;
  do
  :: n < 2 ->
     qlock();
     d_step {
       w = order[0];
       if
       :: w != NIL -> order[0] = order[1]; order[1] = NIL; listed[w] = false; granted[w] = true
       :: else -> skip   /* nobody waits: the item stays in the queue */
       fi
     };
     qunlock();
     if
     :: w != NIL ->
        /* publish(w) */
#ifdef MUT_PUBLISH_STORE
        /* MUTATION: store the outcome, never unpark. */
        atomic { assert(P_no_touch_after_return && !returned[w]); state[w] = kGranted }
#else
        atomic {
          assert(P_no_touch_after_return && !returned[w]);
          if
          :: state[w] == kWaiting -> state[w] = kGranted; cas = true; PROBE(10)
          :: else -> cas = false
          fi
        };
        if
        :: !cas -> unpark_publish(w, 0, nun, more, b, i, j, t, old)
        :: else -> skip
        fi
#endif
     :: else -> skip
     fi;
     w = 0; cas = false;
     n++
  :: else -> break
  od
}

init {
  byte x;
  atomic {
    init_core(x);
    bucket_of[0] = 0;
    if
    :: bucket_of[1] = 0   /* both records hash to one bucket */
    :: bucket_of[1] = 1
    fi;
    listed[0] = true; listed[1] = true;
    order[0] = 0; order[1] = 1;
    run Waiter(0, true);
    run Waiter(1, false);
    run Putter()
  };
  _nr_pr == 1;
  assert(P_token_exactly_once && q[0].qn == 0 && q[1].qn == 0)
}
