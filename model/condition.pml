/* condition.pml — threading::Condition over a threading::Lock, on the parking
 * core (src/condition.cpp; the Lock is lock_protocol.pml).
 *
 * Waiter 0 waits without a timeout, waiter 1 with one (it may time out at any
 * moment). Each does, as Python code would:
 *     with lock:
 *         while not items:
 *             if not cv.wait(timeout): break     # only waiter 1 gives up
 *         else: items -= 1
 * The notifier does ROUNDS (default 1) times:
 *     with lock: items += n; cv.notify(n)        # n = NOTIFY_N
 * Configurations: NOTIFY_N=1 (notify one of two waiters: count and FIFO) and
 * NOTIFY_N=2 (notify_all for two waiters). The two keys (the condition and
 * the lock word) hash to the same bucket or to different ones: init chooses,
 * both are explored.
 *
 * Properties
 *   notify_exact        notify(n) selects exactly min(n, WAITING) threads
 *                       (WAITING: inside wait(), neither notified nor timed
 *                       out; see the ghosts below), all WAITING, the oldest
 *                       first (FIFO); and waiters_ >= WAITING, so the
 *                       waiters_ == 0 shortcut never skips anyone
 *   no_swallowed_notification
 *                       wait() returns true iff a notify selected the thread,
 *                       false iff it timed out while still WAITING: a timed-
 *                       out waiter never swallows a notification (it reports
 *                       it), and there is no spurious wake-up
 *   no_lost_wakeup      every run ends in a valid end state (spin's check):
 *                       a notified waiter moved onto the lock's queue is
 *                       always woken by a release; the only thread allowed to
 *                       sleep on is waiter 0 when it is still WAITING and
 *                       everyone else has finished (see ABANDON_GUARD)
 *   mutual_exclusion    of the lock, through wait's release and re-acquire
 *   token_exactly_once  as in parking.pml; final_state_clean as in lock.pml
 *
 * Mutations (-D): MUT_COND_RELEASE_BEFORE_PARK, MUT_COND_NO_MARK_PARKED,
 * MUT_COND_TIMEOUT_SWALLOWS, MUT_REQUEUE_OFF_BY_ONE, MUT_REQUEUE_LIFO, and
 * the core's MUT_TIMEOUT_NO_WAIT and MUT_VALIDATE_OUTSIDE_LOCK.
 */

#define NT   3
#define NKEY 2
#define NB   2
#define KEY_C 0          /* the Condition object (`this`) */
#define KEY_L 1          /* the Lock's state_ */
#define NOTIFIER 2

#ifndef NOTIFY_N
#define NOTIFY_N 1
#endif
#ifndef ROUNDS
#define ROUNDS 1
#endif

#ifndef TIMED0
#define TIMED0 false     /* -DTIMED0=true: waiter 0 has a timeout too */
#endif

byte items = 0;          /* the user's predicate state, guarded by the lock */
byte cs = 0;             /* threads holding the lock */
byte cwaiters = 0;       /* Condition::waiters_ */
/* Ghosts: each thread's place in Python's semantics of wait(). A thread is
 * WAITING from the moment it calls wait() holding the lock (a notifier needs
 * the lock, so this is the same as from its release of the lock) until a
 * notify selects it (NOTIFIED) or its timeout takes it off the condition's
 * queue (TIMED_OUT). g_seq: its rank among the threads inside wait(), by
 * arrival (1 = oldest): notify(n) must select the n oldest WAITING. */
#define W_NONE     0
#define W_WAITING  1
#define W_NOTIFIED 2
#define W_TIMEDOUT 3
byte g_w[NT];
byte g_seq[NT];
byte g_seqctr = 0;       /* threads inside wait() */
hidden byte P_notify_exact = 1;
hidden byte P_no_swallowed_notification = 1;

/* Waiter 0 waits without a timeout: with notify(1) and one round it may
 * rightly be left waiting forever (the notification went to waiter 1). Only
 * in that state (everyone else finished, waiter 0 on the condition's queue
 * and never notified) may it leave; every other stuck state stays an error. */
bool g_done[NT];
bool g_abandoned = false;
#define ABANDON_GUARD(me) \
  (me == 0 && g_done[1] && g_done[NOTIFIER] && wkey[0] == KEY_C && queued[0] && g_w[0] == W_WAITING)

#include "parking_core.pml"
#include "lock_protocol.pml"

inline park_validate(me, key, ok) {
  if
  :: key == KEY_C -> ok = true
  :: else -> lock_validate(ok)
  fi
}
inline park_enqueued(me, key) { skip }
/* Condition::wait's before_sleep releases the lock (scratch of its own). */
inline park_before_sleep(me, key) {
  if
  :: key == KEY_C ->
#ifndef MUT_COND_RELEASE_BEFORE_PARK
     lock_release_nothrow(me, wl2, s2, cas2, nun2, more2, fair2, tok2, b2, i2, j2, t2, old2);
     assert(wl2); wl2 = false
#else
     skip
#endif
  :: else -> skip
  fi
}
inline park_timed_out(me, key0, cur, last) {
  if
  :: key0 == KEY_C && cur != KEY_C ->
     /* notified and requeued, then timed out on the lock's queue */
     PROBE(8);
#ifndef MUT_COND_TIMEOUT_SWALLOWS
     rtt = true;
#endif
     lock_waiter_timed_out(last)
  :: key0 == KEY_C && cur == KEY_C -> g_w[me] = W_TIMEDOUT
  :: else -> lock_waiter_timed_out(last)     /* lock_slow's own park */
  fi
}

#define LOCALS \
  byte st, tok, b, s, s2, i, j, k, t, old, nun; \
  bool got, cas, ok, r, fr, asleep, more, fair, wl2; \
  byte tok2, b2, i2, j2, t2, old2, nun2, s3, wst, wtok; \
  bool cas2, more2, fair2, rtt, res

#define ACQUIRE(me) \
  lock_acquire(me, false, got, s2, cas, st, tok, b, ok, r, s, fr, asleep, i, j, k); \
  atomic { assert(got); cs++; assert(P_mutual_exclusion && cs == 1 && (lstate & kLocked) != 0) }; \
  got = false

#define RELEASE(me) \
  lock_release(me, wl2, s2, cas, nun, more, fair, tok, b, i, j, t, old); \
  wl2 = false

/* Condition::wait(timeout) -> res */
inline cond_wait(me, timed, res) {
  /* cwaiters, items and cs are only touched with the lock held: their
   * updates join the holder's next step. cs (a ghost) drops as wait() starts
   * to give the lock up. */
  d_step {
    cwaiters++; cs--; rtt = false;
    g_w[me] = W_WAITING; g_seqctr++; g_seq[me] = g_seqctr
  };
#ifdef MUT_COND_RELEASE_BEFORE_PARK
  /* MUTATION: the lock is released before the waiter is on the queue. */
  lock_release_nothrow(me, wl2, s2, cas2, nun2, more2, fair2, tok2, b2, i2, j2, t2, old2);
  wl2 = false;
#endif
  park(me, KEY_C, timed, wst, wtok, b, ok, r, s, fr, asleep, i, j, k);
  /* re-acquire; a hand-off token means the lock's release gave it to us */
  if
  :: wst == ST_UNPARKED && wtok == kTokenHandoff -> skip
  :: else ->
     lock_try(got);
     if
     :: got -> skip
     :: else -> lock_slow(me, false, got, s3, cas, st, tok, b, ok, r, s, fr, asleep, i, j, k)
     fi;
     assert(got); got = false
  fi;
  d_step {
    cs++; assert(P_mutual_exclusion && cs == 1 && (lstate & kLocked) != 0);
    cwaiters--;
    res = (wst == ST_UNPARKED || rtt);
    assert(P_no_swallowed_notification &&
           ((res && g_w[me] == W_NOTIFIED) || (!res && g_w[me] == W_TIMEDOUT)));
    /* leaving wait(): later arrivals move up one rank */
    i = 0;
    do
    :: i < NT -> if :: g_seq[i] > g_seq[me] -> g_seq[i]-- :: else fi; i++
    :: else -> break
    od;
    i = 0; g_seqctr--;
    g_w[me] = W_NONE; g_seq[me] = 0; rtt = false; wst = 0; wtok = 0
  }
}

proctype Waiter(byte me; bool timed) {
  LOCALS;
  ACQUIRE(me);
  do
  :: d_step { items > 0 -> items--; cs-- }; break
  :: else ->
     cond_wait(me, timed, res);
     if
     :: !res -> assert(timed); cs--; break   /* timed out: give up */
     :: else -> res = false
     fi
  od;
  RELEASE(me);
  g_done[me] = true;
abandoned:
  skip
}

/* Condition::notify(n), with the lock held. u: unparker slot. */
inline cond_notify(u, n, op, bf, bt, cnt, mv, nreq, woken, i, j, t, lo, old) {
  if
  :: d_step { n == 0 || cwaiters == 0 -> skip }
  :: else ->
     /* unpark_requeue(this, &raw.state_, n, validate, callback) */
     bf = bucket_of[KEY_C]; bt = bucket_of[KEY_L];
     if
     :: bf == bt -> lock_bucket(bf)
     :: bf < bt -> lock_bucket(bf); lock_bucket(bt)
     :: else -> lock_bucket(bt); lock_bucket(bf)
     fi;
     /* validate: mark_parked_if_locked() ? kRequeueAll : kUnparkOneRequeueRest */
#ifdef MUT_COND_NO_MARK_PARKED
     /* MUTATION: requeues without making sure a release will unpark. */
     op = OP_REQUEUE;
#else
     lock_mark_parked_if_locked(ok);
     op = (ok -> OP_REQUEUE : OP_UNPARK_ONE);
#endif
     d_step {
       /* ghost: how many are WAITING now */
       cnt = 0; i = 0;
       do
       :: i < NT -> if :: g_w[i] == W_WAITING -> cnt++ :: else fi; i++
       :: else -> break
       od;
       assert(P_notify_exact && cwaiters >= cnt);
       /* the scan: up to n oldest waiters on the condition */
       mv = 0; nreq = 0; woken = NIL; lo = 0;
#ifdef MUT_REQUEUE_LIFO
       /* MUTATION: takes the newest waiters first. */
       i = q[bf].qn;
       do
       :: i > 0 && wkey[q[bf].w[i - 1]] == KEY_C && mv < n ->
          i--; t = q[bf].w[i];
#else
       i = 0;
       do
#ifdef MUT_REQUEUE_OFF_BY_ONE
       /* MUTATION: the max_count test is off by one. */
       :: i < q[bf].qn && wkey[q[bf].w[i]] == KEY_C && mv == n + 1 -> break
       :: i < q[bf].qn && wkey[q[bf].w[i]] == KEY_C && mv < n + 1 ->
#else
       :: i < q[bf].qn && wkey[q[bf].w[i]] == KEY_C && mv == n -> break
       :: i < q[bf].qn && wkey[q[bf].w[i]] == KEY_C && mv < n ->
#endif
          t = q[bf].w[i];
#endif
          q_unlink_at(bf, i, j);
          assert(P_notify_exact && g_w[t] == W_WAITING);
          g_w[t] = W_NOTIFIED;
          if :: g_seq[t] > lo -> lo = g_seq[t] :: else fi;
          mv++;
          if
          :: op == OP_UNPARK_ONE && woken == NIL -> woken = t
          :: else -> wkey[t] = KEY_L; q_enqueue(bt, t); nreq++
          fi
#ifdef MUT_REQUEUE_LIFO
       :: i > 0 && (wkey[q[bf].w[i - 1]] != KEY_C || mv == n) -> i--
       :: else -> break
#else
       :: i < q[bf].qn && wkey[q[bf].w[i]] != KEY_C -> i++
       :: else -> break
#endif
       od;
       /* ghost checks: exactly min(n, cnt), and the oldest ones */
       assert(P_notify_exact && mv == (n < cnt -> n : cnt));
       i = 0;
       do
       :: i < NT -> assert(P_notify_exact && (g_w[i] != W_WAITING || g_seq[i] > lo)); i++
       :: else -> break
       od;
       i = 0; t = 0; lo = 0; cnt = 0; mv = 0
     };
     if :: woken != NIL -> PROBE(10) :: else -> skip fi;
     /* callback */
     if
     :: op == OP_UNPARK_ONE && nreq > 0 -> lstate = lstate | kParked
     :: else -> skip
     fi;
     d_step {
       if
       :: woken != NIL -> give_token(woken, 0)
       :: else -> skip
       fi;
       unlock_bucket(bf); unlock_bucket(bt)
     };
     if
     :: woken != NIL ->
        atomic { old = wake[woken]; wake[woken] = kUnparked };
        if
        :: old == kSleeping -> futex_wake_flag(woken)
        :: else -> skip
        fi
     :: else -> skip
     fi;
     op = 0; bf = 0; bt = 0; nreq = 0; woken = 0; old = 0
  fi
}

proctype Notifier() {
  LOCALS;
  byte round, op, bf, bt, cnt, mv, nreq, woken, lo;
  round = 0;
  do
  :: round < ROUNDS ->
     ACQUIRE(NOTIFIER);
     items = items + NOTIFY_N;
     cond_notify(NOTIFIER, NOTIFY_N, op, bf, bt, cnt, mv, nreq, woken, i, j, t, lo, old);
     cs--;
     RELEASE(NOTIFIER);
     round++
  :: else -> break
  od;
  g_done[NOTIFIER] = true;
abandoned:
  skip
}

init {
  byte x;
  atomic {
    init_core(x);
    bucket_of[KEY_C] = 0;
    if
    :: bucket_of[KEY_L] = 0     /* both keys in one bucket */
    :: bucket_of[KEY_L] = 1
    fi;
    run Waiter(0, TIMED0);
    run Waiter(1, true);
    run Notifier()
  };
  _nr_pr == 1;
  if
  :: !g_abandoned ->
     assert(P_final_state_clean && lstate == 0 && q[0].qn == 0 && q[1].qn == 0 && cwaiters == 0 && cs == 0)
  :: else ->
     /* waiter 0 left while still queued on the condition */
     assert(P_final_state_clean && lstate == 0 && q[0].qn + q[1].qn == 1 && wkey[0] == KEY_C && cwaiters == 1 && cs == 0)
  fi
}
