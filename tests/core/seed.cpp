// SPDX-License-Identifier: MIT
#include <array>
#include <cstdint>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/seed.hpp>

using namespace commpress;

TEST_CASE("philox: the sequential stream walks the blocks in order", "[core][seed]") {
    const draw_context c{seed{7}, 3, 5, 11};
    philox seq(c, purpose::quantize, false);
    const philox ra(c, purpose::quantize, false);
    for (std::uint64_t b = 0; b < 10; ++b) {
        const auto blk = ra.block(b);
        for (int i = 0; i < 4; ++i)
            CHECK(seq.next() == blk[i]);
    }
}

TEST_CASE("philox: every key and counter field gives a different stream", "[core][seed]") {
    const draw_context base{seed{1}, 2, 3, 4};
    auto first = [](const draw_context& c, purpose p, bool shared) {
        return philox(c, p, shared).block(0);
    };
    std::set<std::array<std::uint32_t, 4>> seen;
    seen.insert(first(base, purpose::sparsify, false));
    seen.insert(first({seed{9}, 2, 3, 4}, purpose::sparsify, false));
    seen.insert(first({seed{1}, 9, 3, 4}, purpose::sparsify, false));
    seen.insert(first({seed{1}, 2, 9, 4}, purpose::sparsify, false));
    seen.insert(first({seed{1}, 2, 3, 9}, purpose::sparsify, false));
    seen.insert(first(base, purpose::quantize, false));
    seen.insert(first(base, purpose::sparsify, true));
    CHECK(seen.size() == 7);
}

TEST_CASE("philox: the shared stream ignores the worker id", "[core][seed]") {
    const philox a({seed{1}, 2, 0, 4}, purpose::sparsify, true);
    const philox b({seed{1}, 2, 77, 4}, purpose::sparsify, true);
    CHECK(a.block(5) == b.block(5));
}

TEST_CASE("philox::below is in range and uniform", "[core][seed]") {
    philox rng({seed{3}}, purpose::user, false);
    constexpr std::uint32_t bound = 7;
    constexpr int draws = 70000;
    std::array<int, bound> count{};
    for (int i = 0; i < draws; ++i) {
        const auto v = rng.below(bound);
        REQUIRE(v < bound);
        ++count[v];
    }
    // Pearson chi-square with 6 degrees of freedom: P(chi2 > 30) < 4e-5 under uniformity.
    double chi2 = 0;
    const double expected = double(draws) / bound;
    for (int c : count)
        chi2 += (c - expected) * (c - expected) / expected;
    CHECK(chi2 < 30.0);
    CHECK(rng.below(1) == 0);
}

TEST_CASE("slot_stream gives slot j lane j % 4 of block j / 4, in any order", "[core][seed]") {
    const draw_context c{seed{5}, 1, 2, 3};
    slot_stream forward(c, purpose::quantize), backward(c, purpose::quantize);
    const philox ref(c, purpose::quantize, false);
    std::vector<std::uint32_t> f(37), b(37);
    for (std::size_t j = 0; j < 37; ++j)
        f[j] = forward(j);
    for (std::size_t j = 37; j-- > 0;)
        b[j] = backward(j);
    CHECK(f == b);
    CHECK(f[13] == ref.block(3)[1]);
}
