// SPDX-License-Identifier: MIT
// A progress line on stderr: one redrawn line on a terminal, one line per ~10% in logs and pipes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <utility>

namespace commpress::experiment {

/// Reports "label: iteration i/N  p%  elapsed t s". On a terminal it redraws one line in place
/// (at most ~10 times a second); otherwise carriage returns would clutter a log file, so it
/// prints a new line each time another tenth of the work is done.
class progress {
  public:
    using clock = std::chrono::steady_clock;

    progress(std::string label, std::size_t total, std::FILE* out = stderr)
        : label_(std::move(label)), total_(total), out_(out), tty_(::isatty(::fileno(out)) == 1),
          start_(clock::now()), last_draw_(start_) {}

    progress(const progress&) = delete;
    progress& operator=(const progress&) = delete;
    ~progress() { finish(); }

    /// `done` iterations of `total` are finished.
    void update(std::size_t done) {
        done_ = done;
        const auto now = clock::now();
        if (tty_) {
            if (done == total_ || now - last_draw_ >= std::chrono::milliseconds(100)) {
                draw();
                last_draw_ = now;
            }
            return;
        }
        const std::size_t tenth = total_ == 0 ? 10 : done * 10 / total_;
        if (tenth > last_tenth_) {
            last_tenth_ = tenth;
            draw();
        }
    }

    /// Ends the line on a terminal (once); further calls do nothing.
    void finish() {
        if (finished_)
            return;
        finished_ = true;
        if (tty_) {
            if (drawn_ != done_)
                draw();
            std::fputc('\n', out_);
            std::fflush(out_);
        }
    }

    double elapsed_seconds() const {
        return std::chrono::duration<double>(clock::now() - start_).count();
    }

  private:
    void draw() {
        drawn_ = done_;
        const double pct =
            total_ == 0 ? 100.0 : 100.0 * static_cast<double>(done_) / static_cast<double>(total_);
        // "\033[K" clears what a longer previous line left behind on the terminal.
        std::fprintf(out_, "%s%s: iteration %zu/%zu %3.0f%%  elapsed %.1f s%s", tty_ ? "\r" : "",
                     label_.c_str(), done_, total_, pct, elapsed_seconds(), tty_ ? "\033[K" : "\n");
        std::fflush(out_);
    }

    std::string label_;
    std::size_t total_;
    std::FILE* out_;
    bool tty_;
    clock::time_point start_;
    clock::time_point last_draw_;
    std::size_t done_ = 0;
    std::size_t drawn_ = static_cast<std::size_t>(-1); // what the line on the terminal shows
    std::size_t last_tenth_ = 0;
    bool finished_ = false;
};

} // namespace commpress::experiment
