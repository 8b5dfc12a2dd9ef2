// Interruptible waits, for language runtimes built on the library.
//
// A runtime such as CPython runs its signal handlers on one thread (the main
// thread) and must let Ctrl-C end a blocking call there: Lock.acquire(),
// Event.wait() and the others. The signal itself interrupts the sleeping
// system call (EINTR); an InterruptHook installed on the thread decides what
// happens next, so the thread never has to wake on a timer to look for
// signals.
//
// Contract:
//   * Only a wait given a timeout (any Timeout but std::nullopt) is
//     interruptible; a wait without one, and the library's own internal waits
//     (re-taking a Condition's lock, a Barrier's action), never are.
//   * When such a wait's sleep ends without a wake-up and before its
//     deadline (a signal handler ran: EINTR; or a rare spurious return),
//     the thread's hook is called, still queued, in the waiting thread.
//     keep_waiting() == true: the thread sleeps on in place (its queue
//     position, hence FIFO order, kept). false: the call returns as if its
//     timeout had expired, with that call's timeout semantics (a Barrier
//     breaks; a Condition re-takes its lock first). A wake-up that raced with
//     the hook is reported as a wake-up (the call succeeds): the hook's
//     owner must check for that.
//   * The hook runs with no library lock held; it may block briefly (take
//     the runtime's own global lock) but must not wait on the object the
//     thread is queued on.
//   * One hook per thread; set_interrupt_hook(nullptr) removes it.
#pragma once

namespace threading {

class InterruptHook {
 public:
  // true: keep waiting; false: give up (the wait reports a timeout).
  virtual bool keep_waiting() noexcept = 0;

 protected:
  ~InterruptHook() = default;
};

// Installs `hook` for the calling thread; returns the previous one.
InterruptHook* set_interrupt_hook(InterruptHook* hook) noexcept;

}  // namespace threading
