// pythreading: Python's `threading` module in C++20. Include this for everything.
#pragma once

#include "threading/barrier.hpp"
#include "threading/condition.hpp"
#include "threading/diagnostics.hpp"
#include "threading/errors.hpp"
#include "threading/event.hpp"
#include "threading/interrupt.hpp"
#include "threading/local.hpp"
#include "threading/lock.hpp"
#include "threading/queue.hpp"
#include "threading/rlock.hpp"
#include "threading/semaphore.hpp"
#include "threading/thread.hpp"
#include "threading/timeout.hpp"
#include "threading/timer.hpp"
