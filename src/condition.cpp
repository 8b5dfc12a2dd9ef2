#include "threading/condition.hpp"

#include "lock_algorithm.hpp"
#include "threading/detail/parking_lot.hpp"
#include "threading/detail/wait_record.hpp"
#include "threading/errors.hpp"

namespace threading {

namespace pl = detail::parking_lot;

Condition::Condition() : lock_(new RLock), kind_(Kind::kOwnedRLock) {}

Condition::~Condition() {
  if (kind_ == Kind::kOwnedRLock) delete &as_rlock();
}

bool Condition::is_owned() const noexcept {
  return kind_ == Kind::kLock ? as_lock().locked() : as_rlock().is_owned();
}

double Condition::now_seconds() noexcept {
  return static_cast<double>(detail::Deadline::now_ns()) / 1e9;
}

bool Condition::wait(Timeout timeout) {
  if (!is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
  std::optional<detail::Deadline> deadline = detail::wait_deadline(timeout);

  Lock& raw = raw_lock();
  const bool rlock = kind_ != Kind::kLock;
  std::uint32_t saved_count = 0;
  // waiters_ is relaxed throughout: it changes only while the user's lock is
  // held (here, before the release in before_sleep; the decrement below,
  // after the re-acquire) and notify() reads it with the lock held, so the
  // lock's release/acquire orders every access. (Over a plain Lock a thread
  // may notify while another holds it; with no order between that notifier
  // and the waiter at all, reading 0 is the same as notifying just before
  // the wait began.)
  waiters_.fetch_add(1, std::memory_order_relaxed);
  const detail::WaitKind lock_kind = rlock ? detail::WaitKind::kRLock : detail::WaitKind::kLock;
  detail::WaitScope scope{{detail::WaitKind::kCondition, this, rlock ? &as_rlock().owner_ : nullptr,
                           lock_, lock_kind, &raw.state_},
                          deadline ? &*deadline : nullptr};
  detail::note_released(lock_);

  // Enqueue first, then release the lock (in before_sleep): a notify that
  // follows our release necessarily finds us in the queue.
  bool requeued_then_timed_out = false;
  pl::ParkResult r = pl::park(
      this, [] { return true; },
      [&] {
        if (rlock) {
          saved_count = as_rlock().release_all();
        } else {
          raw.release_nothrow();
        }
      },
      [&](const void* key, bool was_last) {
        // Still on our own queue: a plain timeout. On the lock's queue: we
        // were notified and requeued; leaving it, tidy the lock's parked bit.
        if (key != this) {
          requeued_then_timed_out = true;
          raw.waiter_timed_out(was_last);
        }
      },
      pl::kDefaultToken, deadline ? &*deadline : nullptr);

  // Re-acquire: a handoff token means the lock's release gave it to us.
  if (!(r.status == pl::ParkStatus::kUnparked && r.token == detail::kTokenHandoff)) {
    if (!raw.try_lock_raw()) raw.lock_slow(nullptr);
  }
  if (rlock) as_rlock().take(detail::current_thread_id(), saved_count);
  detail::note_acquired(true, lock_, lock_kind);
  waiters_.fetch_sub(1, std::memory_order_relaxed);  // relaxed: the lock is held (above)
  return r.status == pl::ParkStatus::kUnparked || requeued_then_timed_out;
}

void Condition::notify(std::size_t n) {
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  // Relaxed: the user's lock orders it (see wait()).
  if (n == 0 || waiters_.load(std::memory_order_relaxed) == 0) return;
  Lock& raw = raw_lock();
  pl::unpark_requeue(
      this, &raw.state_, n,
      [&] {
        // The lock is held (by us, or over a plain Lock by anyone): move the
        // notified waiters onto it; its release will wake them one at a time.
        return raw.mark_parked_if_locked() ? pl::RequeueOp::kRequeueAll
                                           : pl::RequeueOp::kUnparkOneRequeueRest;
      },
      [&](pl::RequeueOp op, pl::UnparkResult r) -> pl::Token {
        if (op == pl::RequeueOp::kUnparkOneRequeueRest && r.requeued_threads > 0) {
          // Relaxed: an RMW, so the word's next release CAS (an RMW too)
          // reads it; the requeued waiters are published by the bucket lock.
          raw.state_.fetch_or(Lock::kParked, std::memory_order_relaxed);
        }
        return pl::kDefaultToken;
      });
}

}  // namespace threading
