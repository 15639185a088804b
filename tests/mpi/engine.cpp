// SPDX-License-Identifier: MIT
// mpi::engine runs the feedback methods with one worker per rank: the same iterates and bits as
// the in-process simulator with n = ranks workers, on every rank; a method configured differently
// on one rank fails everywhere.
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/comm/mpi.hpp>
#include <commpress/experiment/simulator.hpp>

#include "feedback/quadratic.hpp"

using namespace commpress;
namespace fb = commpress::feedback;

namespace {

constexpr std::size_t d = 40;

int world_rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}
int world_size() {
    int p = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    return p;
}

template <class C>
C make(std::uint32_t worker) {
    typename C::sparsifier_type sp{};
    sp.ratio = 0.1;
    if constexpr (requires { sp.independent; })
        sp.independent = true;
    return C{sp, {}, {}, seed{3}, stream{.worker = worker}};
}

template <class M, class C>
void same_as_simulator(M m, const char* what) {
    INFO(what << " on " << world_size() << " ranks");
    const auto p = static_cast<std::size_t>(world_size());
    const auto me = static_cast<std::uint32_t>(world_rank());
    const testing::quadratic q(d, p, 2.0);
    auto parts = testing::parts_of(q);
    experiment::simulator<M, C> sim(m, make<C>, d, p);
    mpi::engine<M, C> eng(m, make<C>(me), d, MPI_COMM_WORLD);
    std::vector<float> xs(d, 0.5f), xe(d, 0.5f);
    for (int t = 0; t < 25; ++t) {
        const auto rs = sim.round(std::span<testing::quadratic_part>(parts), std::span<float>(xs));
        const auto re = eng.round(parts[me], std::span<float>(xe));
        CHECK(xe == xs);
        CHECK(re.bits_up == rs.bits_up);
        CHECK(re.payload_bits_up == rs.payload_bits_up);
        if constexpr (mpi::engine<M, C>::bidirectional) { // rank 0's broadcasts, received
            CHECK(re.bits_down == rs.bits_down);
            CHECK(re.payload_bits_down == rs.payload_bits_down);
        }
        // Both sum the same doubles, in another order: equal to ~1e-15 relative.
        CHECK(re.grad_norm2 == Approx(rs.grad_norm2).epsilon(1e-12));
        CHECK(re.loss == Approx(rs.loss).epsilon(1e-12));
    }
}

} // namespace

TEST_CASE("mpi::engine gives the simulator's run on every rank", "[mpi]") {
    same_as_simulator<fb::ef21, recipes::top_k>({.gamma = 0.05}, "ef21 + top_k");
    same_as_simulator<fb::diana, recipes::rand_k>({.gamma = 0.05}, "diana + rand_k");
    same_as_simulator<fb::ef_bv, recipes::rand_k>({.gamma = 0.05}, "ef_bv + rand_k");
    same_as_simulator<fb::ef14, recipes::top_k>({.gamma = 0.05}, "ef14 + top_k");
    same_as_simulator<fb::marina, recipes::rand_k>({.gamma = 0.05, .p = 0.3, .seed = 2}, "marina");
    // Bidirectional: rank 0 is the server; top-8 up, top-4 of the server's difference down.
    static_assert(mpi::engine<fb::ef21_bc<recipes::top_k>, recipes::top_k>::bidirectional);
    same_as_simulator<fb::ef21_bc<recipes::top_k>, recipes::top_k>(
        {.gamma = 0.05, .down = recipes::top_k{{.k = 4}, {}, {}, seed{9}, stream{.worker = 99}}},
        "ef21_bc, top_k both ways");
}

TEST_CASE("mpi::engine: a method configured differently on one rank fails everywhere", "[mpi]") {
    const int p = world_size(), me = world_rank();
    if (p < 2)
        return;
    const testing::quadratic q(d, std::size_t(p), 1.0);
    auto parts = testing::parts_of(q);
    mpi::engine<fb::ef21, recipes::top_k> eng({.gamma = me == 1 ? 0.06 : 0.05},
                                              make<recipes::top_k>(std::uint32_t(me)), d,
                                              MPI_COMM_WORLD);
    std::vector<float> x(d, 0.5f);
    CHECK_THROWS_WITH(eng.round(parts[std::size_t(me)], std::span<float>(x)),
                      Catch::Contains("rank 1's configuration differs"));
}

TEST_CASE("mpi::engine, bidirectional: another configuration on one rank fails everywhere",
          "[mpi]") {
    const int p = world_size(), me = world_rank();
    if (p < 2)
        return;
    const testing::quadratic q(d, std::size_t(p), 1.0);
    auto parts = testing::parts_of(q);
    using M = fb::ef21_bc<recipes::top_k>;
    const recipes::top_k down{{.k = 4}, {}, {}, seed{9}, stream{.worker = 99}};
    mpi::engine<M, recipes::top_k> eng({.gamma = me == 1 ? 0.06 : 0.05, .down = down},
                                       make<recipes::top_k>(std::uint32_t(me)), d, MPI_COMM_WORLD);
    std::vector<float> x(d, 0.5f);
    CHECK_THROWS_WITH(eng.round(parts[std::size_t(me)], std::span<float>(x)),
                      Catch::Contains("rank 1's configuration differs"));
}

TEST_CASE("mpi::power_sgd: the simulator's iterates, the same bits on every rank", "[mpi]") {
    const auto p = static_cast<std::size_t>(world_size());
    const auto me = static_cast<std::uint32_t>(world_rank());
    const lowrank::layout shapes{{12, 9}, {1, 12}};
    const std::size_t dim = shapes.size();
    const auto make_c = [&](std::uint32_t i) {
        return lowrank::power_sgd({.rank = 2}, shapes, seed{3}, stream{.worker = i});
    };
    const testing::quadratic q(dim, p, 2.0);
    auto parts = testing::parts_of(q);
    experiment::simulator<fb::ef14, lowrank::power_sgd> sim(fb::ef14{.gamma = 0.05}, make_c, dim,
                                                            p);
    mpi::power_sgd eng(fb::ef14{.gamma = 0.05}, make_c(me), dim, MPI_COMM_WORLD);
    std::vector<float> xs(dim, 0.5f), xe(dim, 0.5f), g(dim);
    for (int t = 0; t < 10; ++t) {
        sim.round(std::span<testing::quadratic_part>(parts), std::span<float>(xs));
        parts[me].loss_and_gradient(std::span<const float>(xe), std::span<float>(g));
        eng.step(g, xe);
    }
    // The sums run in MPI's order, the simulator's in worker order: binary32 rounding apart
    // (entries O(1), 10 steps of a contraction: 1e-5 leaves a wide margin over ~1e-6).
    for (std::size_t j = 0; j < dim; ++j)
        CHECK(std::abs(xe[j] - xs[j]) <= 1e-5f * (1 + std::abs(xs[j])));
    // Every rank holds the same bits of x: rank 0's copy, broadcast, equals this one.
    std::vector<float> x0 = xe;
    MPI_Bcast(x0.data(), static_cast<int>(dim), MPI_FLOAT, 0, MPI_COMM_WORLD);
    CHECK(x0 == xe);
    // 32 r (m + n) + the bias, per step, with 48-byte headers on both messages.
    CHECK(eng.bytes_sent() == 10 * (2 * 48 + 4 * (2 * (12 + 9) + 12)));
    // Another rank on one rank: every rank refuses the step.
    if (p > 1) {
        mpi::power_sgd odd(
            fb::ef14{.gamma = 0.05},
            lowrank::power_sgd({.rank = me == 1 ? 3u : 2u}, shapes, seed{3}, stream{.worker = me}),
            dim, MPI_COMM_WORLD);
        CHECK_THROWS_WITH(odd.step(g, xe), Catch::Contains("rank 1's configuration differs"));
    }
}
