// SPDX-License-Identifier: MIT
// Shift methods: DCGD, EF21 (with heavy-ball momentum), DIANA and EF-BV, one update rule with
// explicit worker and server state (OPERATORS.md B.1, B.2, B.4, B.5, B.6).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/feedback/checkpoint.hpp>
#include <commpress/feedback/step_size.hpp>
#include <commpress/recipes.hpp>

namespace commpress::feedback {

/// Where the shifts start: at zero, or at each worker's first gradient, sent once uncompressed
/// (binary32) in a first round, as the EF21 and EF-BV authors' code does.
enum class start : std::uint8_t { zero, gradient };

/// Distributed compressed gradient descent (B.1): x -= gamma (1/n) sum_i C(grad_i). No state.
struct dcgd {
    double gamma = 0; ///< step size, > 0
    static constexpr const char* name = "dcgd";
};

/// EF21 (B.4): g_i += C(grad_i - g_i), x -= gamma g with g = (1/n) sum g_i; C in B(alpha).
/// momentum > 0 gives EF21-HB (B.5): v = momentum v + g, x -= gamma v.
struct ef21 {
    double gamma = 0;    ///< step size, > 0; ef21_gamma(alpha, smoothness) is the theory's
    double momentum = 0; ///< heavy ball eta in [0, 1)
    start init = start::gradient;
    static constexpr const char* name = "ef21";
};

/// DIANA (B.2): h_i += alpha C(grad_i - h_i), x -= gamma (h + (1/n) sum C(grad_i - h_i)).
struct diana {
    double gamma = 0; ///< step size, > 0; diana_gamma(omega, n, L) is the theory's
    double alpha = 0; ///< shift rate; 0 takes the theory's 1 / (omega + 1)
    start init = start::zero;
    static constexpr const char* name = "diana";
};

/// EF-BV (B.6): h_i += lambda d_i with d_i = C(grad_i - h_i); g = h + nu d, h += lambda d for
/// d = (1/n) sum d_i; x -= gamma g. lambda = nu = 1 is EF21, nu = 1 and lambda = alpha DIANA.
struct ef_bv {
    double gamma = 0;        ///< step size, > 0; ef_bv_theory(...).gamma(smoothness)
    double lambda = 0;       ///< 0 takes lambda* from the compressor's (eta, omega)
    double nu = 0;           ///< 0 takes nu* from (eta, omega_av)
    bool independent = true; ///< workers draw independently: omega_av = omega / n
    start init = start::gradient;
    static constexpr const char* name = "ef_bv";
};

namespace detail {

template <class M>
inline constexpr bool is_shift_method = std::is_same_v<M, dcgd> || std::is_same_v<M, ef21> ||
                                        std::is_same_v<M, diana> || std::is_same_v<M, ef_bv>;

/// (eta, omega) of C at dimension d: C(eta, omega) directly, or U(omega) = C(0, omega).
template <class C>
std::pair<double, double> eta_omega(const C& c, std::size_t d) {
    if constexpr (has_eta<C>)
        return {c.eta(d), c.omega(d)};
    else
        return {0.0, c.omega(d)};
}

/// The one update rule, with the constants each method gives it.
struct shift_rule {
    double gamma, lambda, nu, momentum;
    start init;
};

template <class M, class C>
shift_rule rule_of(const M& m, const C& c, std::size_t d, std::size_t workers) {
    if (!(m.gamma > 0))
        commpress::detail::fail_parameter(std::string(M::name) + ": gamma must be > 0, got " +
                                          std::to_string(m.gamma));
    if constexpr (std::is_same_v<M, dcgd>) {
        return {m.gamma, 0.0, 1.0, 0.0, start::zero};
    } else if constexpr (std::is_same_v<M, ef21>) {
        static_assert(has_alpha<C>, "feedback::ef21 needs a contractive compressor (one with "
                                    "alpha), such as recipes::top_k; for an unbiased one use "
                                    "feedback::diana or feedback::ef_bv");
        check_constant("ef21: momentum", m.momentum, 0.0, 1.0 - 1e-15);
        return {m.gamma, 1.0, 1.0, m.momentum, m.init};
    } else if constexpr (std::is_same_v<M, diana>) {
        static_assert(C::unbiased && has_omega<C>,
                      "feedback::diana needs an unbiased compressor (one with omega), such as "
                      "recipes::rand_k; top_k is biased: use feedback::ef21 or feedback::ef_bv, "
                      "or make it unbiased with induced<recipes::top_k, recipes::rand_k>");
        const double alpha = m.alpha > 0 ? m.alpha : diana_alpha(c.omega(d));
        check_constant("diana: alpha", alpha, 1e-300, 1.0);
        return {m.gamma, alpha, 1.0, 0.0, m.init};
    } else {
        static_assert(has_eta<C> || (C::unbiased && has_omega<C>),
                      "feedback::ef_bv needs a compressor in C(eta, omega): an unbiased one "
                      "(omega) or one with eta, such as recipes::top_k or comp_k");
        const auto [eta, omega] = eta_omega(c, d);
        const double omega_av = m.independent ? omega / static_cast<double>(workers) : omega;
        const ef_bv_constants k = ef_bv_theory(eta, omega, omega_av, m.lambda, m.nu);
        return {m.gamma, k.lambda, k.nu, 0.0, m.init};
    }
}

/// The stream a compressor draws from: its own, or its inner pipeline's (chunked).
template <class C>
stream stream_of(const C& c) noexcept {
    if constexpr (requires { c.stream_id(); })
        return c.stream_id();
    else if constexpr (requires { c.inner().stream_id(); })
        return c.inner().stream_id();
    else
        return {};
}

/// What a checkpoint of method `name` with this rule and compressor must match on load.
template <class C>
checkpoint_key key_of(std::uint8_t half, const char* name, const shift_rule& r, const C& c,
                      std::size_t d, std::uint64_t extra = 0) {
    fingerprint_builder f;
    f("feedback")(name)(r.gamma)(r.lambda)(r.nu)(r.momentum)(r.init)(c.fingerprint())(d)(extra);
    const stream s = stream_of(c);
    return {half, f.value(), s.tensor, half == 0 ? s.worker : 0u};
}

inline void check_dimension(const char* where, std::size_t got, std::size_t d) {
    if (got != d)
        commpress::detail::fail_parameter(
            std::string(where) + ": " + std::to_string(got) +
            " elements, the method was made for d = " + std::to_string(d));
}

} // namespace detail

/// Worker i of a shift method: keeps its shift h_i (EF21's g_i). One call per round.
template <class M, class C, class T = float>
class shift_worker {
    static_assert(detail::is_shift_method<M>, "shift_worker: M is one of dcgd, ef21, diana, ef_bv");

  public:
    /// c compresses this worker's messages (its stream names the worker).
    shift_worker(M m, C c, std::size_t d, std::size_t workers)
        : c_(std::move(c)), rule_(detail::rule_of(m, c_, d, workers)), h_(d, T{0}), diff_(d) {}

    /// Bytes a message of this worker takes at most.
    std::size_t max_message_size() const noexcept {
        return std::max(c_.max_message_size(h_.size()), fp32_.max_message_size(h_.size()));
    }

    /// The message of this round for grad = grad f_i(x^t), into out; returns its size. Round 0
    /// of start::gradient sends grad in binary32; every other round sends C(grad - h_i).
    std::size_t step(std::span<const T> grad, std::span<std::byte> out) {
        detail::check_dimension("shift_worker::step", grad.size(), h_.size());
        if (round_++ == 0 && rule_.init == start::gradient) {
            const std::size_t used = fp32_.compress(grad, out);
            fp32_.decompress(std::span<const std::byte>(out.first(used)), std::span<T>(h_));
            return used;
        }
        for (std::size_t j = 0; j < diff_.size(); ++j)
            diff_[j] = grad[j] - h_[j];
        const std::size_t used = c_.compress(std::span<const T>(diff_), out);
        if (rule_.lambda != 0) // h_i += lambda d_i, d_i as the server decodes it
            c_.decompress_add(std::span<const std::byte>(out.first(used)), std::span<T>(h_),
                              static_cast<T>(rule_.lambda));
        return used;
    }

    std::span<const T> shift() const noexcept { return h_; }
    const detail::shift_rule& rule() const noexcept { return rule_; }
    const C& compressor() const noexcept { return c_; }
    std::uint32_t round() const noexcept { return round_; }

    /// The state between rounds: the round, the compressor's step and h_i.
    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        w.u64(round_);
        w.u64(c_.step());
        w.values(std::span<const T>(h_));
        return w.finish();
    }
    /// Restores save()'s state; throws decode_error, changing nothing, if it does not fit.
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        const std::uint64_t round = r.u64(), step = r.u64();
        std::vector<T> h;
        r.values(h, h_.size());
        r.expect_end();
        round_ = static_cast<std::uint32_t>(round);
        c_.set_step(static_cast<std::uint32_t>(step));
        h_ = std::move(h);
    }

  private:
    checkpoint_key key() const { return detail::key_of(0, M::name, rule_, c_, h_.size()); }

    C c_;
    recipes::fp32 fp32_;
    detail::shift_rule rule_;
    std::vector<T> h_, diff_;
    std::uint32_t round_ = 0;
};

/// The server of a shift method: keeps h = (1/n) sum h_i, the direction g, and the momentum.
/// Each round: receive() every participating worker's message, then update(x).
template <class M, class C, class T = float>
class shift_server {
    static_assert(detail::is_shift_method<M>, "shift_server: M is one of dcgd, ef21, diana, ef_bv");

  public:
    /// c decodes the workers' messages (same configuration as theirs; any stream).
    shift_server(M m, C c, std::size_t d, std::size_t workers)
        : c_(std::move(c)), rule_(detail::rule_of(m, c_, d, workers)), workers_(workers),
          h_(d, T{0}), g_(d, T{0}), v_(d, T{0}), sum_(d, T{0}) {
        if (workers == 0)
            commpress::detail::fail_parameter(std::string(M::name) + ": no workers");
    }

    /// Adds one worker's message of this round; for sums that do not depend on arrival order,
    /// receive in worker order. Throws decode_error (nothing changed) for a bad message.
    void receive(std::span<const std::byte> msg) {
        const T w = T{1} / static_cast<T>(workers_);
        if (first_round())
            fp32_.decompress_add(msg, std::span<T>(sum_), w);
        else
            c_.decompress_add(msg, std::span<T>(sum_), w);
    }

    /// Closes the round: g = h + nu d, h += lambda d (d the mean message), x -= gamma g (or the
    /// heavy-ball v). A start::gradient first round sets h = g = the mean gradient.
    void update(std::span<T> x) {
        detail::check_dimension("shift_server::update", x.size(), h_.size());
        const bool init = first_round();
        const T nu = init ? T{1} : static_cast<T>(rule_.nu);
        const T lambda = init ? T{1} : static_cast<T>(rule_.lambda);
        const T gamma = static_cast<T>(rule_.gamma), beta = static_cast<T>(rule_.momentum);
        for (std::size_t j = 0; j < x.size(); ++j) {
            g_[j] = h_[j] + nu * sum_[j];
            h_[j] += lambda * sum_[j];
            v_[j] = beta * v_[j] + g_[j];
            x[j] -= gamma * v_[j];
            sum_[j] = T{0};
        }
        ++round_;
    }

    std::span<const T> direction() const noexcept { return g_; }
    std::span<const T> shift() const noexcept { return h_; }
    const detail::shift_rule& rule() const noexcept { return rule_; }
    std::uint32_t round() const noexcept { return round_; }

    /// The state between rounds (after update): the round, h, g and the momentum v.
    std::vector<std::byte> save() const {
        detail::checkpoint_writer w(key(), std::type_identity<T>{});
        w.u64(round_);
        w.values(std::span<const T>(h_));
        w.values(std::span<const T>(g_));
        w.values(std::span<const T>(v_));
        return w.finish();
    }
    void load(std::span<const std::byte> bytes) {
        detail::checkpoint_reader r(bytes, key(), std::type_identity<T>{});
        const std::uint64_t round = r.u64();
        std::vector<T> h, g, v;
        r.values(h, h_.size());
        r.values(g, h_.size());
        r.values(v, h_.size());
        r.expect_end();
        round_ = static_cast<std::uint32_t>(round);
        h_ = std::move(h);
        g_ = std::move(g);
        v_ = std::move(v);
        std::fill(sum_.begin(), sum_.end(), T{0});
    }

  private:
    checkpoint_key key() const { return detail::key_of(1, M::name, rule_, c_, h_.size()); }

    bool first_round() const noexcept { return round_ == 0 && rule_.init == start::gradient; }

    C c_;
    recipes::fp32 fp32_;
    detail::shift_rule rule_;
    std::size_t workers_;
    std::vector<T> h_, g_, v_, sum_;
    std::uint32_t round_ = 0;
};

} // namespace commpress::feedback
