/* The parking core (src/parking_lot.cpp) in Promela: park(), unpark_n(),
 * unpark_requeue() and the per-waiter wake flag, faithful step for step to the
 * C++ code. Included by parking.pml, lock.pml and condition.pml.
 *
 * The including model defines, before the #include:
 *   NT    threads that may park (thread ids 0..NT-1), NKEY keys, NB buckets
 *   inline park_validate(me, key, ok)            validate, under the bucket lock
 *   inline park_before_sleep(me, key)            before_sleep
 *   inline park_timed_out(me, key0, cur, last)   timed_out (key0: the key parked on)
 * and, if it unparks with a callback or requeues, the hooks named where used.
 *
 * What is abstracted (README.md argues each one):
 *   - The bucket lock (WordLock) is an atomic test-and-set: the core relies
 *     only on its mutual exclusion, not on its internals.
 *   - Work done under a bucket lock on data only ever touched under that lock
 *     (the queue, `queued`, `key`, the tokens) is one atomic step; every access
 *     to an object's own atomic word stays a step of its own.
 *   - Time: a timed sleep may time out at any moment; "now >= deadline" is a
 *     free choice at each futex_wait (more behaviours than real time allows).
 *   - The futex: futex_wait atomically checks the word and sleeps; futex_wake
 *     wakes the thread sleeping on that waiter's flag. A bounded number
 *     (SPURIOUS) of spurious/EINTR returns may happen anywhere.
 *   - Spinning (spin_before_sleep, SpinWait) only re-reads state: left out.
 */

#define kAwake    0
#define kUnparked 1
#define kSleeping 2

#define ST_UNPARKED 0
#define ST_INVALID  1
#define ST_TIMEDOUT 2

#define NIL 255

#ifndef SPURIOUS
#define SPURIOUS 1
#endif

/* RequeueOp */
#define OP_ABORT      0
#define OP_UNPARK_ONE 1   /* kUnparkOneRequeueRest */
#define OP_REQUEUE    2   /* kRequeueAll */

typedef Queue { byte w[NT]; byte qn };
Queue q[NB];               /* Bucket::head..tail, in order */
bool blk[NB];              /* Bucket::lock */
byte bucket_of[NKEY];      /* bucket_for(key): chosen by init (collisions included) */

/* Each thread's Waiter record (a thread parks at most once at a time; a new
 * park starts from a fresh record, as the C++ one is a new stack object). */
byte wkey[NT];             /* Waiter::key */
bool queued[NT];           /* Waiter::queued */
byte utoken[NT];           /* Waiter::unpark_token */
byte wake[NT];             /* Waiter::wake */
bool infutex[NT];          /* the thread is asleep in futex_wait on its wake flag */
byte spurious = SPURIOUS;  /* spurious futex returns still allowed */

/* The list of waiters an unparker has dequeued and will wake (woken_head..),
 * one per unparking thread, indexed by the model's unparker slot u. */
#ifndef NU
#define NU NT
#endif
typedef WokenList { byte w[NT] };
WokenList wl[NU];

/* Ghosts (not in the C++): the token handed to a dequeued waiter, pending
 * until that park() returns it. */
bool g_pending[NT];
byte g_token[NT];
hidden byte P_token_exactly_once = 1;  /* names the assertions in pan's output */
hidden byte P_final_state_clean = 1;

/* Reachability probes: with -DPROBE_ID=n, reaching probe n is an assertion
 * failure, which shows that the race window it marks is really explored. */
#ifndef PROBE_ID
#define PROBE_ID 0
#endif
hidden byte probe = PROBE_ID;
#define PROBE(n) assert(probe != n)

/* Empty queues and woken lists hold NIL. */
inline init_core(x) {
  x = 0;
  do
  :: x < NT * NB -> q[x / NT].w[x % NT] = NIL; x++
  :: else -> break
  od;
  x = 0;
  do
  :: x < NT * NU -> wl[x / NT].w[x % NT] = NIL; x++
  :: else -> break
  od;
  x = 0
}

inline lock_bucket(b) { atomic { !blk[b] -> blk[b] = true } }
inline unlock_bucket(b) { blk[b] = false }

/* futex_wait(&wake[me], kSleeping, deadline): false only when timed out. */
inline futex_wait_flag(me, timed, fr, asleep) {
  /* The early "deadline already passed" return is not modelled apart: it
   * is the same as sleeping and timing out at once (or, if the flag has
   * changed, as EAGAIN, after which the caller's loop ends just the same). */
  atomic {
    if
    :: wake[me] != kSleeping -> fr = true; asleep = false   /* EAGAIN */
    :: else -> infutex[me] = true; asleep = true
    fi
  };
  if
  :: asleep ->
     if
     :: atomic { !infutex[me] -> fr = true; PROBE(5) }              /* futex_wake */
     :: atomic { timed -> infutex[me] = false; fr = false }         /* ETIMEDOUT */
     :: atomic { spurious > 0 -> spurious--; infutex[me] = false; fr = true }  /* EINTR */
#ifdef ABANDON_GUARD
     /* Harness only: a thread that would rightly sleep forever once every
      * other thread has finished (see the model) leaves, so that run ends
      * in a valid end state; the guard holds in no other state. */
     :: atomic { ABANDON_GUARD(me) -> infutex[me] = false; g_abandoned = true; goto abandoned }
#endif
     fi
  :: else -> skip
  fi;
  asleep = false
}

/* futex_wake(&w->wake, 1) */
inline futex_wake_flag(t) { infutex[t] = false }

/* sleep_until_unparked(w.wake, deadline) -> r */
inline sleep_until_unparked(me, timed, r, s, fr, asleep) {
#ifdef MUT_SLEEP_STORE
  /* MUTATION: a plain store of kSleeping instead of the CAS from kAwake. */
  s = wake[me];
  wake[me] = kSleeping;
#else
  atomic {
    s = wake[me];
    if
    :: s == kAwake -> wake[me] = kSleeping
    :: else -> skip
    fi
  };
#endif
  if
  :: s == kUnparked -> PROBE(4); r = true     /* unparked while we were spinning */
  :: else ->
     do
     :: wake[me] == kSleeping ->
        futex_wait_flag(me, timed, fr, asleep);
        if
        :: !fr -> break
        :: else -> skip
        fi
     :: else -> break
     od;
     r = (wake[me] == kUnparked)
  fi;
  s = 0; fr = false
}

/* lock_waiter_bucket(w): the waiter's key may be changed by a requeue. */
inline lock_waiter_bucket(me, b, k) {
  do
  :: k = wkey[me];
     b = bucket_of[k];
     lock_bucket(b);
     if
     :: wkey[me] == k -> break
     :: else -> PROBE(9); unlock_bucket(b)
     fi
  od;
  k = 0
}

/* Bucket::unlink of the entry at index i of bucket b. */
inline q_unlink_at(b, i, j) {
  queued[q[b].w[i]] = false;
  j = i;
  do
  :: j + 1 < q[b].qn -> q[b].w[j] = q[b].w[j + 1]; j++
  :: else -> break
  od;
  q[b].qn--;
  q[b].w[q[b].qn] = NIL;
  j = 0
}

/* Bucket::enqueue */
inline q_enqueue(b, t) {
  q[b].w[q[b].qn] = t;
  q[b].qn++;
  queued[t] = true
}

/* Hands token `tok` to dequeued waiter t (under the bucket lock). */
inline give_token(t, tok) {
  utoken[t] = tok;
  assert(P_token_exactly_once && !g_pending[t]);   /* never dequeued twice */
  g_pending[t] = true;
  g_token[t] = tok
}

/* park() -> (st, tok). Scratch: b, ok, r, s, fr, asleep, i, j, k. */
inline park(me, key, timed, st, tok, b, ok, r, s, fr, asleep, i, j, k) {
  b = bucket_of[key];
#ifdef MUT_VALIDATE_OUTSIDE_LOCK
  /* MUTATION: validate runs before the bucket is locked. */
  park_validate(me, key, ok);
  lock_bucket(b);
#else
  lock_bucket(b);
  park_validate(me, key, ok);
#endif
  if
  :: !ok -> PROBE(3); unlock_bucket(b); st = ST_INVALID; tok = 0
  :: else ->
     /* A fresh Waiter record (no other thread sees it before it is queued). */
     d_step {
       wkey[me] = key; utoken[me] = 0; wake[me] = kAwake;
       q_enqueue(b, me); park_enqueued(me, key); unlock_bucket(b)
     };
     park_before_sleep(me, key);
     sleep_until_unparked(me, timed, r, s, fr, asleep);
     if
     :: r -> st = ST_UNPARKED; tok = utoken[me]
     :: else ->
        /* Timed out: leave the queue if still on it, else wait for the
         * unpark that is already on its way and report it. */
        lock_waiter_bucket(me, b, k);
        if
        :: queued[me] ->
           d_step {
             i = 0;
             do
             :: q[b].w[i] == me -> break
             :: else -> i++
             od;
             q_unlink_at(b, i, j);
             k = wkey[me];
             /* b.has_key(current_key) */
             ok = false; i = 0;
             do
             :: i < q[b].qn && wkey[q[b].w[i]] == k -> ok = true; break
             :: i < q[b].qn && wkey[q[b].w[i]] != k -> i++
             :: else -> break
             od;
             i = 0
           };
           PROBE(2);
           park_timed_out(me, key, k, !ok);
           unlock_bucket(b);
           st = ST_TIMEDOUT; tok = 0
        :: else ->
           PROBE(1);
           unlock_bucket(b);
#ifdef MUT_TIMEOUT_NO_WAIT
           /* MUTATION: report the timeout without waiting for the unpark. */
           st = ST_TIMEDOUT; tok = 0
#else
           sleep_until_unparked(me, false, r, s, fr, asleep);
           st = ST_UNPARKED; tok = utoken[me]
#endif
        fi
     fi
  fi;
  /* Ghost check: unparked <=> dequeued by an unparker, with its token. */
  atomic {
    if
    :: st == ST_UNPARKED -> assert(P_token_exactly_once && g_pending[me] && tok == g_token[me])
    :: else -> assert(P_token_exactly_once && !g_pending[me])
    fi;
    g_pending[me] = false; g_token[me] = 0;
    ok = false; r = false; k = 0; b = 0
  }
}

/* The dequeue loop of unpark_n(): takes up to n oldest waiters on key off
 * bucket b (locked), in order, into wl[u].w[0..nun). */
inline dequeue_n(b, key, n, u, nun, more, i, j, t) {
  nun = 0; more = false; i = 0;
  do
  :: i < q[b].qn ->
     t = q[b].w[i];
     if
     :: wkey[t] == key && nun == n -> more = true; break
     :: wkey[t] == key && nun < n -> q_unlink_at(b, i, j); wl[u].w[nun] = t; nun++
     :: else -> i++
     fi
  :: else -> break
  od;
  i = 0; t = 0
}

/* The end of unpark_n(): tokens under the lock, unlock, then wake each. */
inline hand_tokens_and_wake(b, u, nun, tok, i, old) {
  d_step {
    i = 0;
    do
    :: i < nun -> give_token(wl[u].w[i], tok); i++
    :: else -> break
    od;
    i = 0;
    unlock_bucket(b)
  };
  do
  :: i < nun ->
     /* wake(): exchange, then futex_wake only if it was asleep */
     atomic { old = wake[wl[u].w[i]]; wake[wl[u].w[i]] = kUnparked };
     if
     :: old == kSleeping -> futex_wake_flag(wl[u].w[i])
     :: else -> skip
     fi;
     wl[u].w[i] = NIL;
     i++
  :: else -> break
  od;
  i = 0; old = 0
}
