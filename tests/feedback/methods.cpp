// SPDX-License-Identifier: MIT
// The invariants of OPERATORS.md B.8 for every method, each method against its update rule
// written out plainly, and convergence within the budget the PL rate gives.
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/feedback.hpp>
#include <commpress/recipes.hpp>

#include "feedback/quadratic.hpp"

using namespace commpress;
namespace fb = commpress::feedback;
using commpress::testing::gd;
using commpress::testing::max_diff;
using commpress::testing::quadratic;

namespace {

constexpr std::size_t d = 40, n = 4;

/// Worker i's compressor: the same configuration everywhere, its own stream. rand-k draws an
/// independent set per worker: with one shared set, (1/n) sum_i C(grad_i) = C(grad f) vanishes
/// at x* and even DCGD converges.
template <class C>
C make(std::uint32_t worker) {
    typename C::sparsifier_type sp{};
    if constexpr (requires { sp.ratio; })
        sp.ratio = 0.1;
    if constexpr (requires { sp.independent; })
        sp.independent = true;
    return C{sp, {}, {}, seed{3}, stream{.worker = worker}};
}

/// `rounds` rounds of method M from x0 = 0: the iterates after each round, plus the workers and
/// server for inspection.
template <class M, class C>
struct run {
    std::vector<fb::worker<M, C>> workers;
    fb::server<M, C> server;
    std::vector<std::vector<float>> xs;

    run(M m, const quadratic& q, int rounds, std::size_t participants = n)
        : server(m, make<C>(0), d, n) {
        for (std::uint32_t i = 0; i < n; ++i)
            workers.emplace_back(m, make<C>(i), d, n);
        std::vector<float> x(d, 0.0f), g(d);
        std::vector<std::byte> msg(workers[0].max_message_size());
        for (int t = 0; t < rounds; ++t) {
            for (std::size_t i = 0; i < participants; ++i) {
                q.grad(i, std::span<const float>(x), std::span<float>(g));
                const std::size_t used =
                    workers[i].step(std::span<const float>(g), std::span<std::byte>(msg));
                server.receive(std::span<const std::byte>(msg.data(), used));
            }
            server.update(std::span<float>(x));
            xs.push_back(x);
        }
    }
};

} // namespace

TEST_CASE("with the identity compressor every method is gradient descent", "[feedback]") {
    const quadratic q(d, n, 1.0);
    const double gamma = 1.0 / q.L();
    const int rounds = 60;
    const auto ref = gd(q, gamma, rounds);
    using I = recipes::fp32;
    // DCGD adds the same numbers in the same order: bit for bit.
    const run<fb::dcgd, I> dcgd({.gamma = gamma}, q, rounds);
    CHECK(dcgd.xs == ref);
    // The shift methods add h + (grad - h): equal up to rounding. Iterates are O(1) and the
    // iteration contracts (gamma = 1/L), so the rounding stays near float's 6e-8 per step.
    const auto close = [&](const auto& r, const char* what) {
        INFO(what);
        for (int t = 0; t < rounds; ++t)
            CHECK(max_diff(r.xs[t], ref[t]) <= 1e-5);
    };
    close(run<fb::ef21, I>({.gamma = gamma}, q, rounds), "ef21");
    close(run<fb::diana, I>({.gamma = gamma, .alpha = 1.0}, q, rounds), "diana(alpha = 1)");
    close(run<fb::ef_bv, I>({.gamma = gamma, .lambda = 1, .nu = 1}, q, rounds), "ef_bv(1, 1)");
    close(run<fb::marina, I>({.gamma = gamma, .p = 0.3, .seed = 9}, q, rounds), "marina");
    // EF14 takes the step on the workers: x -= mean(gamma grad_i) rounds differently.
    close(run<fb::ef14, I>({.gamma = gamma}, q, rounds), "ef14");
}

TEST_CASE("ef_bv(lambda = nu = 1) is ef21; ef_bv(eta = 0, nu = 1, lambda = alpha) is diana",
          "[feedback]") {
    const quadratic q(d, n, 1.0);
    const double gamma = 0.05;
    const run<fb::ef21, recipes::top_k> ef21({.gamma = gamma}, q, 50);
    const run<fb::ef_bv, recipes::top_k> ef_bv({.gamma = gamma, .lambda = 1, .nu = 1}, q, 50);
    CHECK(ef21.xs == ef_bv.xs); // bit for bit: the same operations
    // rand_k is unbiased (eta = 0); DIANA's alpha = 1 / (omega + 1).
    const double alpha = 1.0 / (make<recipes::rand_k>(0).omega(d) + 1);
    const run<fb::diana, recipes::rand_k> diana({.gamma = gamma}, q, 50);
    const run<fb::ef_bv, recipes::rand_k> as_bv(
        {.gamma = gamma, .lambda = alpha, .nu = 1, .init = fb::start::zero}, q, 50);
    CHECK(diana.server.rule().lambda == alpha);
    CHECK(diana.xs == as_bv.xs);
}

TEST_CASE("server shifts are the mean of the worker shifts", "[feedback]") {
    const quadratic q(d, n, 1.0);
    const auto check = [&](const auto& r, const char* what) {
        INFO(what);
        for (std::size_t j = 0; j < d; ++j) {
            double mean = 0;
            for (const auto& w : r.workers)
                mean += w.shift()[j] / double(n);
            // Float sums of n = 4 O(1) terms per round over 30 rounds: within 1e-5.
            CHECK(std::abs(r.server.shift()[j] - mean) <= 1e-5);
        }
    };
    check(run<fb::ef21, recipes::top_k>({.gamma = 0.05}, q, 30), "ef21 + top_k");
    check(run<fb::diana, recipes::rand_k>({.gamma = 0.05}, q, 30), "diana + rand_k");
    check(run<fb::ef_bv, recipes::qsgd>({.gamma = 0.05}, q, 30), "ef_bv + qsgd");
    const run<fb::ef21, recipes::top_k> r({.gamma = 0.05}, q, 30);
    for (std::size_t j = 0; j < d; ++j) // EF21: the direction is the server's shift itself
        CHECK(r.server.direction()[j] == r.server.shift()[j]);
}

TEST_CASE("ef14: the virtual iterate moves by plain gradient steps", "[feedback]") {
    // x~ = x - (1/n) sum e_i obeys x~' = x~ - (gamma/n) sum grad_i(x) for any compressor (B.3).
    const quadratic q(d, n, 1.0);
    const double gamma = 0.05;
    run<fb::ef14, recipes::top_k> r({.gamma = gamma}, q, 0);
    std::vector<float> x(d, 0.0f), g(d), virt(d, 0.0f);
    std::vector<std::byte> msg(r.workers[0].max_message_size());
    for (int t = 0; t < 40; ++t) {
        std::vector<double> step(d, 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            q.grad(i, std::span<const float>(x), std::span<float>(g));
            for (std::size_t j = 0; j < d; ++j)
                step[j] += gamma * g[j] / n;
            const auto used = r.workers[i].step(std::span<const float>(g), msg);
            r.server.receive(std::span<const std::byte>(msg.data(), used));
        }
        r.server.update(std::span<float>(x));
        double worst = 0;
        for (std::size_t j = 0; j < d; ++j) {
            virt[j] = static_cast<float>(virt[j] - step[j]);
            double e = 0;
            for (const auto& w : r.workers)
                e += w.memory()[j] / double(n);
            worst = std::max(worst, std::abs(x[j] - e - virt[j]));
        }
        CHECK(worst <= 1e-5); // float rounding of O(1) values over 40 rounds
    }
}

TEST_CASE("ef21 and diana follow their update rules written out", "[feedback]") {
    // EF21 (B.4) with top-k, as Algorithm 1 reads, against the library's halves.
    const quadratic q(d, n, 1.0);
    const double gamma = 0.05;
    const run<fb::ef21, recipes::top_k> lib({.gamma = gamma}, q, 20);
    std::vector<recipes::top_k> c;
    for (std::uint32_t i = 0; i < n; ++i)
        c.push_back(make<recipes::top_k>(i));
    std::vector<std::vector<float>> gi(n, std::vector<float>(d));
    std::vector<float> x(d, 0.0f), g(d, 0.0f), grad(d), diff(d), ci(d);
    for (std::size_t i = 0; i < n; ++i) { // g_i^0 = grad f_i(x^0), g^0 = mean
        q.grad(i, std::span<const float>(x), std::span<float>(gi[i]));
        for (std::size_t j = 0; j < d; ++j)
            g[j] += gi[i][j] / float(n);
    }
    for (std::size_t j = 0; j < d; ++j)
        x[j] -= float(gamma) * g[j];
    CHECK(max_diff(x, lib.xs[0]) <= 1e-6);
    for (int t = 1; t < 20; ++t) {
        std::vector<float> sum(d, 0.0f);
        for (std::size_t i = 0; i < n; ++i) {
            q.grad(i, std::span<const float>(x), std::span<float>(grad));
            for (std::size_t j = 0; j < d; ++j)
                diff[j] = grad[j] - gi[i][j];
            const auto msg = c[i].compress(std::span<const float>(diff));
            c[i].decompress(std::span<const std::byte>(msg), std::span<float>(ci));
            for (std::size_t j = 0; j < d; ++j) {
                gi[i][j] += ci[j];
                sum[j] += ci[j] / float(n);
            }
        }
        for (std::size_t j = 0; j < d; ++j) {
            g[j] += sum[j];
            x[j] -= float(gamma) * g[j];
        }
        CHECK(max_diff(x, lib.xs[t]) <= 1e-5); // same operations up to float reassociation
    }
}

TEST_CASE("shift methods converge where the theory says; DCGD stalls", "[feedback]") {
    // Heterogeneous quadratic: grad f_i(x*) != 0. Targets ||grad f||^2 < 1e-6.
    const quadratic q(d, n, 2.0);
    const auto sm = q.smoothness();
    const double mu = q.mu(), L = q.L();
    const double eps = 1e-6 / (2 * L); // ||grad f||^2 <= 2 L (f - f*)
    // EF21 + top-k (alpha = 0.1), PL (B.4 Thm 2, [U]): gamma <= min{1/(L + L~ sqrt(2 beta /
    // theta)), theta / (2 mu)}, f(x^T) - f* <= (1 - gamma mu)^T Psi^0, Psi^0 = f(x^0) - f*
    // (G^0 = 0 with the gradient start). Deterministic compressor: no expectation needed.
    const double alpha = make<recipes::top_k>(0).alpha(d);
    const double theta = 1 - std::sqrt(1 - alpha), beta = (1 - alpha) / theta;
    const double gamma =
        std::min(1 / (L + sm.L_tilde * std::sqrt(2 * beta / theta)), theta / (2 * mu));
    const std::vector<float> zero(d, 0.0f);
    const double psi0 = q.gap(std::span<const float>(zero));
    const int budget = int(std::ceil(std::log(psi0 / eps) / (gamma * mu)));
    INFO("EF21 budget " << budget << " rounds, gamma " << gamma);
    const run<fb::ef21, recipes::top_k> ef21({.gamma = gamma}, q, budget);
    CHECK(q.grad_norm2(std::span<const float>(ef21.xs.back())) < 1e-6);
    // DIANA + rand_k, the step of the EF-BV code; DCGD with the same step stalls at a floor
    // set by the compression variance at x* (B.1), far above 1e-6.
    const double omega = make<recipes::rand_k>(0).omega(d);
    const double g_diana = fb::diana_gamma(omega, n, L);
    const int rounds = 3000;
    const run<fb::diana, recipes::rand_k> diana({.gamma = g_diana}, q, rounds);
    const run<fb::dcgd, recipes::rand_k> dcgd({.gamma = g_diana}, q, rounds);
    const double gd2 = q.grad_norm2(std::span<const float>(diana.xs.back()));
    const double gc2 = q.grad_norm2(std::span<const float>(dcgd.xs.back()));
    INFO("diana " << gd2 << ", dcgd " << gc2);
    CHECK(gd2 < 1e-6);
    CHECK(gc2 > 1e-4);
}

TEST_CASE("feedback methods reject bad parameters and sizes", "[feedback]") {
    using ef21_worker = fb::worker<fb::ef21, recipes::top_k>;
    using ef21_server = fb::server<fb::ef21, recipes::top_k>;
    using dcgd_server = fb::server<fb::dcgd, recipes::top_k>;
    using marina_worker = fb::worker<fb::marina, recipes::rand_k>;
    const auto top_k = make<recipes::top_k>(0);
    CHECK_THROWS_AS(ef21_worker({}, top_k, d, n), invalid_parameter); // gamma 0
    CHECK_THROWS_AS(ef21_server({.gamma = 1, .momentum = 1}, top_k, d, n), invalid_parameter);
    CHECK_THROWS_AS(dcgd_server({.gamma = 1}, top_k, d, 0), invalid_parameter);
    CHECK_THROWS_AS(marina_worker({.gamma = 1, .p = 0}, make<recipes::rand_k>(0), d, n),
                    invalid_parameter);
    ef21_worker w({.gamma = 1}, top_k, d, n);
    std::vector<float> g(d + 1);
    std::vector<std::byte> out(w.max_message_size());
    CHECK_THROWS_AS(w.step(std::span<const float>(g), std::span<std::byte>(out)),
                    invalid_parameter);
    ef21_server s({.gamma = 1}, top_k, d, n);
    const std::vector<std::byte> junk(60, std::byte{7});
    CHECK_THROWS_AS(s.receive(std::span<const std::byte>(junk)), decode_error);
}
