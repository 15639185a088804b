// SPDX-License-Identifier: MIT
// MARINA (OPERATORS.md B.7): compressed gradient differences, with an uncompressed round drawn
// with probability p from a coin every party flips alike.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/feedback/shift.hpp>
#include <commpress/recipes.hpp>

namespace commpress::feedback {

/// Round 0, and each later round with probability p: g = (1/n) sum grad_i, sent in binary32.
/// Otherwise g += (1/n) sum C_i(grad_i(x^t) - grad_i(x^{t-1})). Then x -= gamma g. C unbiased.
struct marina {
    double gamma = 0;       ///< step size, > 0; marina_gamma(omega, p, n, L) is the theory's
    double p = 0;           ///< probability of a full round, in (0, 1]
    std::uint64_t seed = 0; ///< the shared coin's seed
    static constexpr const char* name = "marina";

    /// Whether round t sends full gradients: a pure function of (seed, t), the same everywhere.
    bool full_round(std::uint32_t t) const noexcept {
        const std::uint64_t z = commpress::detail::splitmix64(
            seed ^ commpress::detail::splitmix64(0x6d61'7269'6e61'0000ull | t));
        return t == 0 || static_cast<double>(z >> 11) * 0x1p-53 < p;
    }
};

namespace detail {
/// MARINA's constants in the checkpoint key: gamma, and p in the place of lambda (the coin's
/// seed goes in as the key's extra field).
inline shift_rule rule(const marina& m) { return {m.gamma, m.p, 0, 0, start::gradient}; }

inline void check_marina(const marina& m) {
    if (!(m.gamma > 0) || !(m.p > 0 && m.p <= 1))
        commpress::detail::fail_parameter(
            "marina: gamma must be > 0 and p in (0, 1], got gamma = " + std::to_string(m.gamma) +
            ", p = " + std::to_string(m.p));
}
} // namespace detail

template <class C, class T = float>
class marina_worker {
    static_assert(C::unbiased && has_omega<C>,
                  "feedback::marina needs an unbiased compressor (one with omega), such as "
                  "recipes::rand_k");

  public:
    marina_worker(marina m, C c, std::size_t d, std::size_t /*workers*/ = 1)
        : m_(m), c_(std::move(c)), prev_(d, T{0}), diff_(d) {
        detail::check_marina(m_);
    }

    std::size_t max_message_size() const noexcept {
        return std::max(c_.max_message_size(prev_.size()), fp32_.max_message_size(prev_.size()));
    }

    std::size_t step(std::span<const T> grad, std::span<std::byte> out) {
        detail::check_dimension("marina_worker::step", grad.size(), prev_.size());
        std::size_t used;
        if (m_.full_round(round_)) {
            used = fp32_.compress(grad, out);
        } else {
            for (std::size_t j = 0; j < diff_.size(); ++j)
                diff_[j] = grad[j] - prev_[j];
            used = c_.compress(std::span<const T>(diff_), out);
        }
        std::copy(grad.begin(), grad.end(), prev_.begin());
        ++round_;
        return used;
    }

    std::uint32_t round() const noexcept { return round_; }

    /// The state between rounds: the round, both compressors' steps and the last gradient.
    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        w.u64(round_);
        w.u64(c_.step());
        w.u64(fp32_.step());
        w.values(std::span<const T>(prev_));
        return w.finish();
    }
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        const std::uint64_t round = r.u64(), step = r.u64(), full_step = r.u64();
        std::vector<T> prev;
        r.values(prev, prev_.size());
        r.expect_end();
        round_ = static_cast<std::uint32_t>(round);
        c_.set_step(static_cast<std::uint32_t>(step));
        fp32_.set_step(static_cast<std::uint32_t>(full_step));
        prev_ = std::move(prev);
    }

  private:
    checkpoint_key key() const {
        return detail::key_of(0, marina::name, detail::rule(m_), c_, prev_.size(), m_.seed);
    }

    marina m_;
    C c_;
    recipes::fp32 fp32_;
    std::vector<T> prev_, diff_;
    std::uint32_t round_ = 0;
};

template <class C, class T = float>
class marina_server {
  public:
    marina_server(marina m, C c, std::size_t d, std::size_t workers)
        : m_(m), c_(std::move(c)), workers_(workers), g_(d, T{0}), sum_(d, T{0}) {
        detail::check_marina(m_);
        if (workers == 0)
            commpress::detail::fail_parameter("marina: no workers");
    }

    void receive(std::span<const std::byte> msg) {
        const T w = T{1} / static_cast<T>(workers_);
        if (m_.full_round(round_))
            fp32_.decompress_add(msg, std::span<T>(sum_), w);
        else
            c_.decompress_add(msg, std::span<T>(sum_), w);
    }

    void update(std::span<T> x) {
        detail::check_dimension("marina_server::update", x.size(), g_.size());
        const bool full = m_.full_round(round_);
        const T gamma = static_cast<T>(m_.gamma);
        for (std::size_t j = 0; j < x.size(); ++j) {
            g_[j] = full ? sum_[j] : g_[j] + sum_[j];
            x[j] -= gamma * g_[j];
            sum_[j] = T{0};
        }
        ++round_;
    }

    std::span<const T> direction() const noexcept { return g_; }
    std::uint32_t round() const noexcept { return round_; }

    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        w.u64(round_);
        w.values(std::span<const T>(g_));
        return w.finish();
    }
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        const std::uint64_t round = r.u64();
        std::vector<T> g;
        r.values(g, g_.size());
        r.expect_end();
        round_ = static_cast<std::uint32_t>(round);
        g_ = std::move(g);
        std::fill(sum_.begin(), sum_.end(), T{0});
    }

  private:
    checkpoint_key key() const {
        return detail::key_of(1, marina::name, detail::rule(m_), c_, g_.size(), m_.seed);
    }

    marina m_;
    C c_;
    recipes::fp32 fp32_;
    std::size_t workers_;
    std::vector<T> g_, sum_;
    std::uint32_t round_ = 0;
};

} // namespace commpress::feedback
