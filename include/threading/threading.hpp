// pythreading: Python's `threading` module in C++20. Include this for everything.
#pragma once

#include "threading/condition.hpp"
#include "threading/errors.hpp"
#include "threading/lock.hpp"
#include "threading/rlock.hpp"
#include "threading/timeout.hpp"
