// SPDX-License-Identifier: MIT
// The vectorised Philox kernel and slot_stream's bulk draws against Random123's Philox4x32-10,
// block by block, on every compiled architecture.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <Random123/philox.h>
#include <catch2/catch.hpp>
#include <xsimd/config/xsimd_arch.hpp>

#include <commpress/core/seed.hpp>
#include <commpress/kernels/philox.hpp>

using namespace commpress;

TEST_CASE("philox_blocks equals Random123 on every architecture", "[kernels][philox]") {
    const std::size_t blocks = GENERATE(0u, 1u, 7u, 64u, 4099u);
    // A first block near 2^32 exercises the carry into counter word 1.
    const std::uint64_t first = GENERATE(std::uint64_t{0}, std::uint64_t{0xffff'fff0u});
    const r123::Philox4x32::key_type key = {{0x1234'5678u, 0x9abc'def0u}};
    std::vector<std::uint32_t> want(4 * blocks);
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::uint64_t c = first + b;
        const r123::Philox4x32::ctr_type ctr = {
            {static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32), 7u, 11u}};
        const auto r = r123::Philox4x32{}(ctr, key);
        for (std::size_t i = 0; i < 4; ++i)
            want[4 * b + i] = r[i];
    }
    xsimd::supported_architectures::for_each([&](auto arch) {
        INFO("arch " << arch.name() << ", blocks = " << blocks << ", first = " << first);
        std::vector<std::uint32_t> got(4 * blocks + 5, 0xdead'beefu);
        kernels::philox_blocks(arch, {key[0], key[1]}, 7u, 11u, first,
                               std::span(got).subspan(1, 4 * blocks)); // unaligned
        CHECK(std::equal(want.begin(), want.end(), got.begin() + 1));
        CHECK(got[0] == 0xdead'beefu);
        CHECK(got[4 * blocks + 1] == 0xdead'beefu);
    });
}

TEST_CASE("slot_stream draws the same word per slot in bulk, in any order", "[kernels][philox]") {
    const draw_context c{seed{5}, 3, 2, 9};
    const philox ref(c, purpose::quantize, false);
    const auto word = [&](std::size_t j) { return ref.block(j / 4)[j % 4]; };
    // Ranges that start and end off a block boundary, cross the 256-word buffer, and go back.
    for (const auto& [first, last] : {std::pair<std::size_t, std::size_t>{0, 0},
                                      {0, 1},
                                      {3, 9},
                                      {1, 1030},
                                      {777, 1500},
                                      {5, 6}}) {
        slot_stream rng(c, purpose::quantize);
        std::size_t bad = 0, seen = 0;
        rng.for_each(first, last, [&](std::size_t j, std::uint32_t w) {
            bad += w != word(j) || j != first + seen;
            ++seen;
        });
        CHECK(seen == last - first);
        CHECK(bad == 0);
        for (const std::size_t j : {last, first, last + 300, std::size_t{2}})
            CHECK(rng(j) == word(j)); // random access after bulk draws
    }
}
