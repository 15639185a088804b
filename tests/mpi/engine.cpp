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
