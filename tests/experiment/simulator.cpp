// SPDX-License-Identifier: MIT
// The simulator: every byte counted per direction, the same run for any thread count, the same
// iterates as the method's halves driven by hand, partial participation.
#include <cmath>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/experiment/simulator.hpp>

#include "feedback/quadratic.hpp"

using namespace commpress;
namespace fb = commpress::feedback;
using commpress::experiment::round_record;
using commpress::experiment::simulator;

namespace {

constexpr std::size_t d = 40, n = 4;

template <class C>
C make(std::uint32_t worker) {
    typename C::sparsifier_type sp{};
    sp.ratio = 0.1;
    if constexpr (requires { sp.independent; })
        sp.independent = true;
    return C{sp, {}, {}, seed{3}, stream{.worker = worker}};
}

template <class M, class C>
struct trace {
    std::vector<std::vector<float>> xs;
    std::vector<round_record> records;
};

template <class M, class C>
trace<M, C> simulate(M m, const testing::quadratic& q, int rounds,
                     experiment::simulation_options opts = {}) {
    simulator<M, C> sim(m, make<C>, d, n, opts);
    auto parts = testing::parts_of(q);
    std::vector<float> x(d, 0.0f);
    trace<M, C> t;
    for (int r = 0; r < rounds; ++r) {
        t.records.push_back(
            sim.round(std::span<testing::quadratic_part>(parts), std::span<float>(x)));
        t.xs.push_back(x);
    }
    return t;
}

} // namespace

TEST_CASE("simulator: the same run on any number of threads", "[simulator]") {
    const testing::quadratic q(d, n, 1.0);
    const auto one = simulate<fb::diana, recipes::rand_k>({.gamma = 0.02}, q, 30);
    for (const unsigned threads : {2u, 3u}) {
        const auto many = simulate<fb::diana, recipes::rand_k>(
            {.gamma = 0.02}, q, 30, {.team = std::make_shared<thread_team>(threads)});
        CHECK(many.xs == one.xs);
        for (std::size_t r = 0; r < one.records.size(); ++r) {
            CHECK(many.records[r].bits_up == one.records[r].bits_up);
            CHECK(many.records[r].grad_norm2 == one.records[r].grad_norm2);
        }
    }
}

TEST_CASE("simulator: bytes per direction are the messages' sizes", "[simulator]") {
    const testing::quadratic q(d, n, 1.0);
    const auto t = simulate<fb::ef21, recipes::top_k>({.gamma = 0.02}, q, 5);
    // Round 1 sends every gradient in binary32: 48-byte header + 4d. Later rounds: top-k of
    // k = 4 of 40 with 6-bit indices, 4 (32 + 6) = 152 bits = 19 bytes after the header. Down:
    // x in binary32 each round.
    const double first = 8.0 * (48 + 4 * d), later = 8.0 * (48 + 19), down = 8.0 * (48 + 4 * d);
    for (std::size_t r = 0; r < t.records.size(); ++r) {
        CHECK(t.records[r].bits_up == first + double(r) * later);
        CHECK(t.records[r].payload_bits_up == 8.0 * (4 * d + 19 * double(r)));
        CHECK(t.records[r].bits_down == double(r + 1) * down);
        CHECK(t.records[r].payload_bits_down == double(r + 1) * 32 * d);
    }
}

TEST_CASE("simulator: the iterates of the halves driven by hand; f and grad f exact",
          "[simulator]") {
    const testing::quadratic q(d, n, 1.0);
    const auto t = simulate<fb::ef21, recipes::top_k>({.gamma = 0.02}, q, 20);
    std::vector<fb::worker<fb::ef21, recipes::top_k>> w;
    for (std::uint32_t i = 0; i < n; ++i)
        w.emplace_back(fb::ef21{.gamma = 0.02}, make<recipes::top_k>(i), d, n);
    fb::server<fb::ef21, recipes::top_k> s({.gamma = 0.02}, make<recipes::top_k>(0), d, n);
    auto parts = testing::parts_of(q);
    std::vector<float> x(d, 0.0f), g(d);
    std::vector<std::byte> msg(w[0].max_message_size());
    for (int r = 0; r < 20; ++r) {
        const auto [f, g2] = experiment::evaluate(std::span<testing::quadratic_part>(parts),
                                                  std::span<const float>(x));
        CHECK(t.records[r].loss == Approx(f).epsilon(1e-12));
        CHECK(t.records[r].grad_norm2 == Approx(g2).epsilon(1e-12));
        for (std::size_t i = 0; i < n; ++i) {
            q.grad(i, std::span<const float>(x), std::span<float>(g));
            s.receive(std::span<const std::byte>(msg.data(), w[i].step(g, msg)));
        }
        s.update(std::span<float>(x));
        CHECK(x == t.xs[r]);
    }
}

TEST_CASE("simulator: partial participation", "[simulator]") {
    const testing::quadratic q(d, n, 1.0);
    // All n "sampled" is plain EF21.
    const auto all =
        simulate<fb::ef21, recipes::top_k>({.gamma = 0.02}, q, 10, {.participants = n});
    CHECK(all.xs == simulate<fb::ef21, recipes::top_k>({.gamma = 0.02}, q, 10).xs);
    // Two of four per round after the first: half the later uplink bytes, a different run,
    // and the same run again for the same seed.
    const auto pp =
        simulate<fb::ef21, recipes::top_k>({.gamma = 0.02}, q, 10, {.participants = 2, .seed = 5});
    const double first = 8.0 * (48 + 4 * d), later = 8.0 * (48 + 19);
    CHECK(pp.records.back().bits_up == first + 9 * later / 2);
    CHECK(pp.records.back().grad_norm2 == -1); // not every gradient was taken
    CHECK(std::isnan(pp.records.back().loss));
    CHECK(pp.xs != all.xs);
    CHECK(pp.xs ==
          simulate<fb::ef21, recipes::top_k>({.gamma = 0.02}, q, 10, {.participants = 2, .seed = 5})
              .xs);
    CHECK_THROWS_AS((simulator<fb::ef21, recipes::top_k>({.gamma = 1}, make<recipes::top_k>, d, n,
                                                         {.participants = n + 1})),
                    invalid_parameter);
}

TEST_CASE("simulator: ef21_bc broadcasts x^0, g^0, then C_M messages", "[simulator]") {
    const testing::quadratic q(d, n, 1.0);
    recipes::top_k::sparsifier_type sp{};
    sp.ratio = 0.2;
    using M = fb::ef21_bc<recipes::top_k>;
    const M m{.gamma = 0.02, .down = recipes::top_k{sp, {}, {}, seed{3}, stream{}}};
    const auto t = simulate<M, recipes::top_k>(m, q, 6);
    // Down, per worker: x^0 and g^0 in binary32 in round 1, then one top-8 of 40 per round:
    // 8 (32 + 6) bits = 38 bytes after the header. Up: as EF21.
    const double fp32 = 8.0 * (48 + 4 * d), top8 = 8.0 * (48 + 38), top4 = 8.0 * (48 + 19);
    for (std::size_t r = 0; r < t.records.size(); ++r) {
        CHECK(t.records[r].bits_down == 2 * fp32 + double(r) * top8);
        CHECK(t.records[r].payload_bits_down == 2 * 32.0 * d + double(r) * 8 * 38);
        CHECK(t.records[r].bits_up == fp32 + double(r) * top4);
    }
    const auto two =
        simulate<M, recipes::top_k>(m, q, 6, {.team = std::make_shared<thread_team>(2)});
    CHECK(two.xs == t.xs);
    // With C_M = top-8 the run differs from EF21's, which broadcasts x exactly.
    CHECK(t.xs != simulate<fb::ef21, recipes::top_k>({.gamma = 0.02}, q, 6).xs);
    CHECK_THROWS_AS(
        (simulator<M, recipes::top_k>(m, make<recipes::top_k>, d, n, {.participants = 2})),
        invalid_parameter);
}
