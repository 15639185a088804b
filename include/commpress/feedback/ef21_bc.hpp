// SPDX-License-Identifier: MIT
// EF21-BC (OPERATORS.md B.5): EF21 with the server's broadcast compressed too, by a second
// EF21 loop on the server's direction. Workers keep copies of the direction and the model.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/feedback/checkpoint.hpp>
#include <commpress/feedback/shift.hpp>
#include <commpress/recipes.hpp>

namespace commpress::feedback {

/// Workers as EF21: w_i += C(grad_i - w_i). The server keeps w = (1/n) sum w_i and its own
/// direction g, and broadcasts only b = C_M(w - g): everyone sets g += b and x -= gamma g.
/// The authors' code steps with EF21's gamma for the workers' alpha (times a factor).
template <class CM>
struct ef21_bc {
    static_assert(has_alpha<CM>, "feedback::ef21_bc needs a contractive broadcast compressor "
                                 "(one with alpha), such as recipes::top_k");
    double gamma = 0; ///< step size, > 0
    CM down;          ///< C_M, the server's compressor (its stream: the server's)
    start init = start::gradient;
    static constexpr const char* name = "ef21_bc";
};

namespace detail {
template <class M>
inline constexpr bool is_ef21_bc = false;
template <class CM>
inline constexpr bool is_ef21_bc<ef21_bc<CM>> = true;

template <class CM>
ef21 uplink(const ef21_bc<CM>& m) {
    return {.gamma = m.gamma, .momentum = 0, .init = m.init};
}
} // namespace detail

/// Worker i: EF21's worker, plus its copies of g and x, kept by receive()ing every broadcast.
template <class CM, class C, class T = float>
class ef21_bc_worker {
  public:
    ef21_bc_worker(ef21_bc<CM> m, C c, std::size_t d, std::size_t workers)
        : up_(detail::uplink(m), std::move(c), d, workers), down_(std::move(m.down)), g_(d, T{0}),
          x_(d, T{0}) {}

    std::size_t max_message_size() const noexcept { return up_.max_message_size(); }

    /// Applies a broadcast. The first is the model x^0 in binary32; with start::gradient the
    /// second is g^0 in binary32; the others are C_M messages. Then (not for x^0) x -= gamma g.
    /// Throws decode_error, changing nothing, for a bad message.
    void receive(std::span<const std::byte> msg) {
        if (received_ == 0)
            fp32_.decompress(msg, std::span<T>(x_));
        else if (received_ == 1 && up_.rule().init == start::gradient)
            fp32_.decompress(msg, std::span<T>(g_));
        else
            down_.decompress_add(msg, std::span<T>(g_), T{1});
        const T gamma = static_cast<T>(up_.rule().gamma);
        if (received_++ != 0)
            for (std::size_t j = 0; j < x_.size(); ++j)
                x_[j] -= gamma * g_[j];
    }

    /// The model this worker computes its gradient at.
    std::span<const T> model() const noexcept { return x_; }
    std::span<const T> direction() const noexcept { return g_; }

    /// EF21's message for grad = grad f_i(model()).
    std::size_t step(std::span<const T> grad, std::span<std::byte> out) {
        if (received_ == 0)
            commpress::detail::fail_parameter("ef21_bc_worker::step: no model received yet");
        return up_.step(grad, out);
    }

    std::span<const T> shift() const noexcept { return up_.shift(); }
    std::uint32_t round() const noexcept { return up_.round(); }

    /// The state between rounds: EF21's worker state, the broadcasts received, g and x.
    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        const std::vector<std::byte> up = up_.save();
        w.bytes(std::span<const std::byte>(up));
        w.u64(received_);
        w.values(std::span<const T>(g_));
        w.values(std::span<const T>(x_));
        return w.finish();
    }
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        std::vector<std::byte> up;
        r.bytes(up);
        const std::uint64_t received = r.u64();
        std::vector<T> g, x;
        r.values(g, g_.size());
        r.values(x, x_.size());
        r.expect_end();
        up_.load(std::span<const std::byte>(up)); // the only step that can still throw
        received_ = static_cast<std::uint32_t>(received);
        g_ = std::move(g);
        x_ = std::move(x);
    }

  private:
    checkpoint_key key() const {
        return detail::key_of(0, ef21_bc<CM>::name, up_.rule(), up_.compressor(), g_.size(),
                              down_.fingerprint());
    }

    shift_worker<ef21, C, T> up_;
    CM down_;
    recipes::fp32 fp32_;
    std::vector<T> g_, x_;
    std::uint32_t received_ = 0;
};

/// The server: decodes the workers' EF21 messages into w, compresses w - g into the broadcast.
template <class CM, class C, class T = float>
class ef21_bc_server {
  public:
    ef21_bc_server(ef21_bc<CM> m, C c, std::size_t d, std::size_t workers)
        : c_(std::move(c)), down_(std::move(m.down)),
          rule_(detail::rule_of(detail::uplink(m), c_, d, workers)), workers_(workers), w_(d, T{0}),
          g_(d, T{0}), sum_(d, T{0}), diff_(d),
          broadcast_(std::max(down_.max_message_size(d), fp32_.max_message_size(d))) {
        if (workers == 0)
            commpress::detail::fail_parameter("ef21_bc: no workers");
    }

    /// Adds one worker's message of this round, in worker order. Throws decode_error.
    void receive(std::span<const std::byte> msg) {
        const T w = T{1} / static_cast<T>(workers_);
        if (first_round())
            fp32_.decompress_add(msg, std::span<T>(sum_), w);
        else
            c_.decompress_add(msg, std::span<T>(sum_), w);
    }

    /// w += mean message; the broadcast b = C_M(w - g) (g^0 = w in binary32 on a
    /// start::gradient first round); g += b; x -= gamma g.
    void update(std::span<T> x) {
        detail::check_dimension("ef21_bc_server::update", x.size(), g_.size());
        for (std::size_t j = 0; j < w_.size(); ++j) {
            w_[j] += sum_[j];
            diff_[j] = w_[j] - g_[j];
            sum_[j] = T{0};
        }
        if (first_round()) {
            used_ = fp32_.compress(std::span<const T>(w_), broadcast_);
            g_ = w_;
        } else {
            used_ = down_.compress(std::span<const T>(diff_), broadcast_);
            down_.decompress_add(broadcast(), std::span<T>(g_), T{1});
        }
        const T gamma = static_cast<T>(rule_.gamma);
        for (std::size_t j = 0; j < x.size(); ++j)
            x[j] -= gamma * g_[j];
        ++round_;
    }

    /// The message of the last update, for every worker's receive().
    std::span<const std::byte> broadcast() const noexcept { return {broadcast_.data(), used_}; }
    std::span<const T> direction() const noexcept { return g_; }
    std::span<const T> shift() const noexcept { return w_; }
    std::uint32_t round() const noexcept { return round_; }

    /// The state between rounds: the round, C_M's step, w, g and the last broadcast.
    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        w.u64(round_);
        w.u64(down_.step());
        w.values(std::span<const T>(w_));
        w.values(std::span<const T>(g_));
        w.bytes(broadcast());
        return w.finish();
    }
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        const std::uint64_t round = r.u64(), step = r.u64();
        std::vector<T> w, g;
        r.values(w, w_.size());
        r.values(g, g_.size());
        std::vector<std::byte> last;
        r.bytes(last);
        r.expect_end();
        if (last.size() > broadcast_.size())
            commpress::detail::fail_decode("checkpoint: a broadcast larger than C_M's largest");
        round_ = static_cast<std::uint32_t>(round);
        down_.set_step(static_cast<std::uint32_t>(step));
        w_ = std::move(w);
        g_ = std::move(g);
        std::copy(last.begin(), last.end(), broadcast_.begin());
        used_ = last.size();
        std::fill(sum_.begin(), sum_.end(), T{0});
    }

  private:
    checkpoint_key key() const {
        return detail::key_of(1, ef21_bc<CM>::name, rule_, c_, g_.size(), down_.fingerprint());
    }
    bool first_round() const noexcept { return round_ == 0 && rule_.init == start::gradient; }

    C c_;
    CM down_;
    recipes::fp32 fp32_;
    detail::shift_rule rule_;
    std::size_t workers_;
    std::vector<T> w_, g_, sum_, diff_;
    std::vector<std::byte> broadcast_;
    std::size_t used_ = 0;
    std::uint32_t round_ = 0;
};

} // namespace commpress::feedback
