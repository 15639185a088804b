// SPDX-License-Identifier: MIT
// thread_team: a fixed set of threads that runs the chunks of one call, allocation free per call.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace commpress {

/// `size()` threads, the caller being thread 0: run(count, f) calls f(i, t) for every i in
/// [0, count) on thread t = i % size(). The fixed assignment keeps each thread's workspaces the
/// same from call to call (so they stop growing) and makes results independent of timing.
/// Threads start once, in the constructor; a call then only wakes them (no allocation). Calls
/// from several threads take turns. If some f throw, run rethrows the exception of the lowest i
/// after every thread has finished.
class thread_team {
  public:
    explicit thread_team(unsigned size = std::thread::hardware_concurrency()) {
        if (size == 0)
            size = 1; // hardware_concurrency() may not know
        workers_.reserve(size - 1);
        for (unsigned t = 1; t < size; ++t)
            workers_.emplace_back([this, t] { serve(t); });
    }

    ~thread_team() {
        {
            const std::lock_guard lock(mutex_);
            stop_ = true;
        }
        start_.notify_all();
        for (std::thread& w : workers_)
            w.join();
    }

    thread_team(const thread_team&) = delete;
    thread_team& operator=(const thread_team&) = delete;

    unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()) + 1; }

    template <class F>
    void run(std::size_t count, F&& f) {
        if (workers_.empty() || count <= 1) {
            for (std::size_t i = 0; i < count; ++i)
                f(i, 0u);
            return;
        }
        const std::lock_guard turn(turn_);
        {
            const std::lock_guard lock(mutex_);
            job_ = {&call<std::remove_reference_t<F>>,
                    const_cast<void*>(static_cast<const void*>(&f)), count};
            error_ = nullptr;
            error_at_ = std::numeric_limits<std::size_t>::max();
            busy_ = workers_.size();
            ++generation_;
        }
        start_.notify_all();
        work(0);
        std::unique_lock lock(mutex_);
        done_.wait(lock, [this] { return busy_ == 0; });
        if (error_)
            std::rethrow_exception(error_);
    }

  private:
    struct job {
        void (*call)(void*, std::size_t, unsigned) = nullptr;
        void* f = nullptr;
        std::size_t count = 0;
    };

    template <class F>
    static void call(void* f, std::size_t i, unsigned t) {
        (*static_cast<F*>(f))(i, t);
    }

    void work(unsigned t) noexcept {
        for (std::size_t i = t; i < job_.count; i += size()) {
            try {
                job_.call(job_.f, i, t);
            } catch (...) {
                const std::lock_guard lock(mutex_);
                if (i < error_at_) {
                    error_ = std::current_exception();
                    error_at_ = i;
                }
            }
        }
    }

    void serve(unsigned t) {
        std::uint64_t seen = 0;
        std::unique_lock lock(mutex_);
        for (;;) {
            start_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_)
                return;
            seen = generation_;
            lock.unlock();
            work(t);
            lock.lock();
            if (--busy_ == 0)
                done_.notify_one();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex turn_;  // one run at a time
    std::mutex mutex_; // guards everything below
    std::condition_variable start_, done_;
    job job_;
    std::uint64_t generation_ = 0;
    std::size_t busy_ = 0;
    bool stop_ = false;
    std::exception_ptr error_;
    std::size_t error_at_ = 0;
};

} // namespace commpress
