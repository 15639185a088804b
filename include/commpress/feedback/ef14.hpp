// SPDX-License-Identifier: MIT
// Classic error feedback (EF14 / EF-SGD / Mem-SGD, OPERATORS.md B.3): the part of the scaled
// gradient a compressor drops is remembered and sent later.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/feedback/shift.hpp>

namespace commpress::feedback {

/// Distributed EF as the EF21 paper's baseline runs it: v_i = C(e_i + gamma grad_i),
/// e_i = e_i + gamma grad_i - v_i, x -= (1/n) sum v_i. The step size lives on the workers (it
/// scales what they compress); set_gamma changes it between rounds (Mem-SGD's decaying steps).
struct ef14 {
    double gamma = 0; ///< step size, > 0
    static constexpr const char* name = "ef14";
};

template <class C, class T = float>
class ef14_worker {
    static_assert(has_alpha<C>, "feedback::ef14 needs a contractive compressor (one with alpha), "
                                "such as recipes::top_k or recipes::scaled_sign");

  public:
    ef14_worker(ef14 m, C c, std::size_t d, std::size_t /*workers*/ = 1)
        : c_(std::move(c)), e_(d, T{0}), p_(d), v_(d) {
        set_gamma(m.gamma);
    }

    std::size_t max_message_size() const noexcept { return c_.max_message_size(e_.size()); }

    /// The message C(e_i + gamma grad) of this round; the memory keeps what it dropped.
    std::size_t step(std::span<const T> grad, std::span<std::byte> out) {
        detail::check_dimension("ef14_worker::step", grad.size(), e_.size());
        const T gamma = static_cast<T>(gamma_);
        for (std::size_t j = 0; j < e_.size(); ++j)
            p_[j] = e_[j] + gamma * grad[j];
        const std::size_t used = c_.compress(std::span<const T>(p_), out);
        c_.decompress(std::span<const std::byte>(out.first(used)), std::span<T>(v_));
        for (std::size_t j = 0; j < e_.size(); ++j)
            e_[j] = p_[j] - v_[j];
        ++round_;
        return used;
    }

    void set_gamma(double gamma) {
        if (!(gamma > 0))
            commpress::detail::fail_parameter("ef14: gamma must be > 0, got " +
                                              std::to_string(gamma));
        gamma_ = gamma;
    }
    std::span<const T> memory() const noexcept { return e_; }
    std::uint32_t round() const noexcept { return round_; }

    /// The state between rounds: the round, the step size, the compressor's step and e_i.
    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        w.u64(round_);
        w.f64(gamma_);
        w.u64(c_.step());
        w.values(std::span<const T>(e_));
        return w.finish();
    }
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        const std::uint64_t round = r.u64();
        const double gamma = r.f64();
        const std::uint64_t step = r.u64();
        std::vector<T> e;
        r.values(e, e_.size());
        r.expect_end();
        if (!(gamma > 0))
            commpress::detail::fail_decode("checkpoint: ef14 step size " + std::to_string(gamma));
        round_ = static_cast<std::uint32_t>(round);
        gamma_ = gamma;
        c_.set_step(static_cast<std::uint32_t>(step));
        e_ = std::move(e);
    }

  private:
    checkpoint_key key() const {
        return detail::key_of(0, ef14::name, {0, 0, 0, 0, start::zero}, c_, e_.size());
    }

    C c_;
    double gamma_ = 0;
    std::vector<T> e_, p_, v_;
    std::uint32_t round_ = 0;
};

template <class C, class T = float>
class ef14_server {
  public:
    ef14_server(ef14, C c, std::size_t d, std::size_t workers)
        : c_(std::move(c)), workers_(workers), sum_(d, T{0}) {
        if (workers == 0)
            commpress::detail::fail_parameter("ef14: no workers");
    }

    void receive(std::span<const std::byte> msg) {
        c_.decompress_add(msg, std::span<T>(sum_), T{1} / static_cast<T>(workers_));
    }

    /// x -= (1/n) sum v_i (the workers applied the step size).
    void update(std::span<T> x) {
        detail::check_dimension("ef14_server::update", x.size(), sum_.size());
        for (std::size_t j = 0; j < x.size(); ++j) {
            x[j] -= sum_[j];
            sum_[j] = T{0};
        }
        ++round_;
    }

    std::uint32_t round() const noexcept { return round_; }

    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        w.u64(round_);
        return w.finish();
    }
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        const std::uint64_t round = r.u64();
        r.expect_end();
        round_ = static_cast<std::uint32_t>(round);
        std::fill(sum_.begin(), sum_.end(), T{0});
    }

  private:
    checkpoint_key key() const {
        return detail::key_of(1, ef14::name, {0, 0, 0, 0, start::zero}, c_, sum_.size());
    }

    C c_;
    std::size_t workers_;
    std::vector<T> sum_;
    std::uint32_t round_ = 0;
};

} // namespace commpress::feedback
