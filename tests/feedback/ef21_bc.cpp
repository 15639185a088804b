// SPDX-License-Identifier: MIT
// EF21-BC: gradient descent with identity compressors, the authors' loop written out, every
// worker's model copy equal to the server's model, checkpoints, bad broadcasts.
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/feedback.hpp>
#include <commpress/recipes.hpp>

#include "feedback/quadratic.hpp"

using namespace commpress;
namespace fb = commpress::feedback;
using commpress::testing::max_diff;
using commpress::testing::quadratic;

namespace {

constexpr std::size_t d = 40, n = 4;

template <class C>
C make(std::uint32_t worker, double ratio = 0.1) {
    typename C::sparsifier_type sp{};
    if constexpr (requires { sp.ratio; })
        sp.ratio = ratio;
    return C{sp, {}, {}, seed{3}, stream{.worker = worker}};
}

template <class CM>
using bc = fb::ef21_bc<CM>;

/// EF21-BC's halves driven by hand: x^0 broadcast in binary32, then per round every worker's
/// gradient at its own model copy, the server's update and its broadcast to every worker.
template <class CM, class C>
struct bc_run {
    std::vector<fb::worker<bc<CM>, C>> workers;
    fb::server<bc<CM>, C> server;
    std::vector<float> x = std::vector<float>(d, 0.0f);
    std::vector<std::vector<float>> xs;
    bool copies_equal = true; ///< every worker's model() == x after every round

    bc_run(const bc<CM>& m, const quadratic& q, int rounds) : server(m, make<C>(0), d, n) {
        for (std::uint32_t i = 0; i < n; ++i)
            workers.emplace_back(m, make<C>(i), d, n);
        const auto x0 = recipes::fp32{}.compress(std::span<const float>(x));
        for (auto& w : workers)
            w.receive(std::span<const std::byte>(x0));
        more(q, rounds);
    }
    void more(const quadratic& q, int rounds) {
        std::vector<float> g(d);
        std::vector<std::byte> msg(workers[0].max_message_size());
        for (int t = 0; t < rounds; ++t) {
            for (std::size_t i = 0; i < n; ++i) {
                q.grad(i, workers[i].model(), std::span<float>(g));
                server.receive(std::span<const std::byte>(msg.data(), workers[i].step(g, msg)));
            }
            server.update(std::span<float>(x));
            for (auto& w : workers) {
                w.receive(server.broadcast());
                copies_equal = copies_equal && std::equal(x.begin(), x.end(), w.model().begin());
            }
            xs.push_back(x);
        }
    }
};

} // namespace

TEST_CASE("ef21_bc with identity compressors both ways is gradient descent", "[feedback][bc]") {
    const quadratic q(d, n, 1.0);
    const double gamma = 1.0 / q.L();
    using I = recipes::fp32;
    const bc_run<I, I> r({.gamma = gamma, .down = I{}}, q, 60);
    const auto ref = testing::gd(q, gamma, 60);
    // w and g add (grad - w) and (w - g): equal up to float rounding of O(1) values,
    // contracting at gamma = 1/L, as for the other methods.
    for (int t = 0; t < 60; ++t)
        CHECK(max_diff(r.xs[t], ref[t]) <= 1e-5);
    CHECK(r.copies_equal);
}

TEST_CASE("ef21_bc follows the authors' loop; every model copy is the server's", "[feedback][bc]") {
    // ef21_bc.py: g^0 = mean grad_i(x^0) = w^0; then x -= gamma g; w_i += C(grad_i(x) - w_i);
    // g += C_M(mean w_i - g). Top-k 4 of 40 up, top-k 8 of 40 down.
    const quadratic q(d, n, 2.0);
    const double gamma = 0.05;
    using C = recipes::top_k;
    const bc_run<C, C> lib({.gamma = gamma, .down = make<C>(0, 0.2)}, q, 30);
    CHECK(lib.copies_equal);
    std::vector<C> c;
    for (std::uint32_t i = 0; i < n; ++i)
        c.push_back(make<C>(i));
    C cm = make<C>(0, 0.2);
    std::vector<std::vector<float>> wi(n, std::vector<float>(d));
    std::vector<float> x(d, 0.0f), g(d, 0.0f), grad(d), diff(d), ci(d);
    for (std::size_t i = 0; i < n; ++i) {
        q.grad(i, std::span<const float>(x), std::span<float>(wi[i]));
        for (std::size_t j = 0; j < d; ++j)
            g[j] += wi[i][j] / float(n);
    }
    for (int t = 0; t < 30; ++t) {
        for (std::size_t j = 0; j < d; ++j)
            x[j] -= float(gamma) * g[j];
        // The library's round t ends with x^{t+1}; the loop's x here is the same point.
        CHECK(max_diff(x, lib.xs[t]) <= 1e-5);
        std::vector<float> w(d, 0.0f);
        for (std::size_t i = 0; i < n; ++i) {
            q.grad(i, std::span<const float>(x), std::span<float>(grad));
            for (std::size_t j = 0; j < d; ++j)
                diff[j] = grad[j] - wi[i][j];
            c[i].decompress(std::span<const std::byte>(c[i].compress(std::span<const float>(diff))),
                            std::span<float>(ci));
            for (std::size_t j = 0; j < d; ++j) {
                wi[i][j] += ci[j];
                w[j] += wi[i][j] / float(n);
            }
        }
        for (std::size_t j = 0; j < d; ++j)
            diff[j] = w[j] - g[j];
        cm.decompress(std::span<const std::byte>(cm.compress(std::span<const float>(diff))),
                      std::span<float>(ci));
        for (std::size_t j = 0; j < d; ++j)
            g[j] += ci[j];
    }
    // The broadcast is a top-8 message: 8 (32 + 6) bits after the 48-byte header.
    CHECK(lib.server.broadcast().size() == 48 + 38);
}

TEST_CASE("ef21_bc: a loaded checkpoint continues the run that never stopped", "[feedback][bc]") {
    const quadratic q(d, n, 1.0);
    using C = recipes::top_k;
    const bc<C> m{.gamma = 0.05, .down = make<C>(0, 0.2)};
    const bc_run<C, C> straight(m, q, 25);
    bc_run<C, C> first(m, q, 12);
    bc_run<C, C> resumed(m, q, 0);
    for (std::size_t i = 0; i < n; ++i)
        resumed.workers[i].load(first.workers[i].save());
    resumed.server.load(first.server.save());
    resumed.x = first.x;
    resumed.more(q, 13);
    CHECK(resumed.x == straight.x);
    CHECK(resumed.copies_equal);
    // Another broadcast compressor is another configuration.
    fb::worker<bc<C>, C> other({.gamma = 0.05, .down = make<C>(0, 0.3)}, make<C>(1), d, n);
    CHECK_THROWS_WITH(other.load(first.workers[1].save()), Catch::Contains("fingerprint"));
    fb::server<bc<C>, C> s2(m, make<C>(0), d, n);
    auto bytes = first.server.save();
    bytes.resize(bytes.size() - 9);
    CHECK_THROWS_AS(s2.load(bytes), decode_error);
    CHECK(s2.round() == 0);
}

TEST_CASE("ef21_bc: a bad broadcast changes nothing; no step before the model", "[feedback][bc]") {
    const quadratic q(d, n, 1.0);
    using C = recipes::top_k;
    const bc<C> m{.gamma = 0.05, .down = make<C>(0, 0.2)};
    fb::worker<bc<C>, C> fresh(m, make<C>(1), d, n);
    std::vector<float> g(d, 1.0f);
    std::vector<std::byte> out(fresh.max_message_size());
    CHECK_THROWS_AS(fresh.step(g, out), invalid_parameter);
    bc_run<C, C> r(m, q, 5);
    std::vector<std::byte> msg(r.server.broadcast().begin(), r.server.broadcast().end());
    msg[0] ^= std::byte{0xff}; // not a commpress message
    const std::vector<float> before(r.workers[0].model().begin(), r.workers[0].model().end());
    CHECK_THROWS_AS(r.workers[0].receive(msg), decode_error);
    CHECK(std::equal(before.begin(), before.end(), r.workers[0].model().begin()));
    const std::vector<std::byte> short_msg(msg.begin(), msg.begin() + 20);
    CHECK_THROWS_AS(r.workers[0].receive(short_msg), decode_error);
    CHECK(std::equal(before.begin(), before.end(), r.workers[0].model().begin()));
}
