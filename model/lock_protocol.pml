/* Lock's protocol (src/lock.cpp, src/lock_algorithm.hpp, include/threading/
 * lock.hpp) on the parking core, as Promela inlines. Included by lock.pml and condition.pml after
 * parking_core.pml. The including model defines KEY_L (the key &state_).
 *
 * state_: kLocked (1) | kParked (2). Every atomic operation on state_ is one
 * step; a load and the CAS that uses it are two. A CAS loop that only retries
 * on failure (mark_parked_if_locked) is one atomic step, its linearisation
 * point. compare_exchange_weak's spurious failures are retries, i.e. the same
 * as this thread running later: left out. Spinning only re-reads: left out.
 */

#define kLocked 1
#define kParked 2
#define kTokenHandoff 1

byte lstate = 0;                 /* Lock::state_ */
hidden byte P_mutual_exclusion = 1;

/* Lock::try_lock() */
inline lock_try(got) {
  atomic {
    if
    :: lstate == 0 -> lstate = kLocked; got = true
    :: else -> got = false
    fi
  }
}

/* The validate lambda of lock_slow's park (under the bucket lock). */
inline lock_validate(ok) {
#ifdef MUT_LOCK_VALIDATE_LOCKED
  /* MUTATION: checks only the locked bit, not that the parked bit is set. */
  ok = ((lstate & kLocked) != 0)
#else
  ok = (lstate == (kLocked | kParked))
#endif
}

/* Lock::waiter_timed_out(was_last), under the bucket lock. */
inline lock_waiter_timed_out(last) {
#ifdef MUT_LOCK_TIMEOUT_CLEARS_ALWAYS
  /* MUTATION: clears the parked bit even when other waiters remain. */
  lstate = lstate & ~kParked; PROBE(7)
#else
  if
  :: last -> lstate = lstate & ~kParked; PROBE(7)
  :: else -> skip
  fi
#endif
}

/* Lock::mark_parked_if_locked() (its CAS loop as one atomic step). */
inline lock_mark_parked_if_locked(res) {
  atomic {
    if
    :: (lstate & kLocked) != 0 -> lstate = lstate | kParked; res = true
    :: else -> res = false
    fi
  }
}

/* Lock::lock_slow(deadline) -> got. */
inline lock_slow(me, timed, got, s2, cas, st, tok, b, ok, r, s, fr, asleep, i, j, k) {
  got = false;
  do
  :: s2 = lstate;
     if
     :: (s2 & kLocked) == 0 ->
        atomic {
          if
          :: lstate == s2 -> lstate = s2 | kLocked; got = true
          :: else -> skip
          fi
        };
        if
        :: got -> break
        :: else -> skip
        fi
     :: else ->
        cas = true;
        if
        :: (s2 & kParked) == 0 ->
           atomic {
             if
             :: lstate == s2 -> lstate = s2 | kParked
             :: else -> cas = false
             fi
           }
        :: else -> skip
        fi;
        if
        :: cas ->
           park(me, KEY_L, timed, st, tok, b, ok, r, s, fr, asleep, i, j, k);
           if
           :: st == ST_UNPARKED && tok == kTokenHandoff -> got = true; break
           :: st == ST_TIMEDOUT -> break
           :: else -> skip
           fi
        :: else -> skip
        fi
     fi
  od;
  s2 = 0; cas = false; st = 0; tok = 0
}

/* Lock::acquire(true, timeout): try_lock, then lock_slow. */
inline lock_acquire(me, timed, got, s2, cas, st, tok, b, ok, r, s, fr, asleep, i, j, k) {
  lock_try(got);
  if
  :: got -> skip
  :: else -> lock_slow(me, timed, got, s2, cas, st, tok, b, ok, r, s, fr, asleep, i, j, k)
  fi
}

/* Lock::release_nothrow() -> was_locked. u: this thread's unparker slot. */
inline lock_release_nothrow(u, was_locked, s2, cas, nun, more, fair, tok, b, i, j, t, old) {
  was_locked = true; cas = false;
  do
  :: s2 = lstate;
     if
     :: (s2 & kLocked) == 0 -> was_locked = false; break
     :: (s2 & kParked) != 0 ->
#ifdef MUT_LOCK_RELEASE_NO_UNPARK
        /* MUTATION: frees the lock but leaves the waiters parked. */
        atomic {
          if
          :: lstate == s2 -> lstate = s2 & ~kLocked; cas = true
          :: else -> skip
          fi
        };
        if
        :: cas -> break
        :: else -> skip
        fi
#else
        break
#endif
     :: else ->
        atomic {
          if
          :: lstate == s2 -> lstate = 0; cas = true
          :: else -> skip
          fi
        };
        if
        :: cas -> break
        :: else -> skip
        fi
     fi
  od;
  if
  :: was_locked && !cas ->
     /* unpark_one(&state_, callback) */
     b = bucket_of[KEY_L];
     lock_bucket(b);
     d_step { dequeue_n(b, KEY_L, 1, u, nun, more, i, j, t) };
     if
     :: nun > 0 -> if :: fair = true :: fair = false fi   /* time_to_be_fair() */
     :: else -> fair = false
     fi;
     /* the callback, under the bucket lock */
     s2 = lstate;
     if
     :: (s2 & kLocked) == 0 -> was_locked = false; tok = 0   /* a racing release came first */
     :: else ->
        if
        :: nun > 0 && fair ->
           PROBE(6);
#ifdef MUT_LOCK_HANDOFF_UNLOCKS
           /* MUTATION: hands the lock over but also marks it free. */
           lstate = (more -> kParked : 0);
#else
           if
           :: !more -> lstate = kLocked
           :: else -> skip
           fi;
#endif
           tok = kTokenHandoff
        :: else ->
           lstate = (more -> kParked : 0);
           tok = 0
        fi
     fi;
     hand_tokens_and_wake(b, u, nun, tok, i, old)
  :: else -> skip
  fi;
  s2 = 0; cas = false; nun = 0; more = false; fair = false; tok = 0
}

/* Lock::release(): the inline fast path, then release_slow. */
inline lock_release(u, was_locked, s2, cas, nun, more, fair, tok, b, i, j, t, old) {
  atomic {
    if
    :: lstate == kLocked -> lstate = 0; cas = true
    :: else -> cas = false
    fi
  };
  if
  :: cas -> cas = false
  :: else ->
     lock_release_nothrow(u, was_locked, s2, cas, nun, more, fair, tok, b, i, j, t, old);
     assert(was_locked)   /* the harness never releases an unlocked lock */
  fi
}
