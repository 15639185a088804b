// SPDX-License-Identifier: MIT
// The bulk binary16 kernels (F16C where the architecture has it) against the scalar conversions,
// bit for bit, NaN payloads included, on every compiled architecture.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <catch2/catch.hpp>
#include <xsimd/config/xsimd_arch.hpp>

#include <commpress/kernels/half.hpp>

using namespace commpress;

TEST_CASE("to_binary16_rne equals the scalar conversion on every architecture", "[kernels][half]") {
    // Random bit patterns (every class: NaNs with payloads, subnormals, overflow) and the values
    // around every binary16 rounding boundary.
    std::mt19937_64 rng(5);
    std::vector<float> x;
    for (int i = 0; i < 20000; ++i)
        x.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    for (std::uint32_t h = 0; h < 0x10000; h += 7) {
        const std::uint32_t b =
            std::bit_cast<std::uint32_t>(kernels::from_binary16(static_cast<std::uint16_t>(h))) +
            0x1000u; // a midpoint
        for (const std::uint32_t d : {b - 1, b, b + 1})
            x.push_back(std::bit_cast<float>(d));
    }
    const std::size_t n = GENERATE(0u, 1u, 7u, 64u, 4099u, 0u);
    const std::size_t size = n ? n : x.size(); // the last run takes every case
    const std::span<const float> in = std::span<const float>(x).subspan(1, size); // unaligned
    std::vector<std::uint32_t> want(size);
    for (std::size_t j = 0; j < size; ++j)
        want[j] = kernels::to_binary16<kernels::rounding::nearest_even>(in[j]);
    xsimd::supported_architectures::for_each([&](auto arch) {
        INFO("arch " << arch.name() << ", n = " << size);
        std::vector<std::uint32_t> got(size + 1, 0xdead'beefu);
        kernels::to_binary16_rne(arch, in, std::span(got).first(size));
        CHECK(got.back() == 0xdead'beefu);
        CHECK(std::equal(want.begin(), want.end(), got.begin()));
    });
}

TEST_CASE("from_binary16 with an architecture equals the scalar conversion for every code",
          "[kernels][half]") {
    xsimd::supported_architectures::for_each([&](auto arch) {
        INFO("arch " << arch.name());
        std::size_t bad = 0;
        for (std::uint32_t c = 0; c < 0x10000; ++c) {
            const auto h = static_cast<std::uint16_t>(c);
            bad += std::bit_cast<std::uint32_t>(kernels::from_binary16(arch, h)) !=
                   std::bit_cast<std::uint32_t>(kernels::from_binary16(h));
        }
        CHECK(bad == 0);
    });
}

TEST_CASE("bulk from_binary16 equals the scalar conversion on every architecture",
          "[kernels][half]") {
    std::vector<std::uint32_t> codes(0x10000 + 1); // every code, from index 1: unaligned
    for (std::uint32_t c = 0; c < 0x10000; ++c)
        codes[c + 1] = c;
    const std::size_t n = GENERATE(0u, 1u, 7u, 64u, 4099u, 0x10000u);
    const auto in = std::span<const std::uint32_t>(codes).subspan(1, n);
    xsimd::supported_architectures::for_each([&](auto arch) {
        INFO("arch " << arch.name() << ", n = " << n);
        std::vector<float> got(n + 1, 2.5f);
        kernels::from_binary16(arch, in, got.data());
        CHECK(got.back() == 2.5f);
        std::size_t bad = 0;
        for (std::size_t j = 0; j < n; ++j)
            bad += std::bit_cast<std::uint32_t>(got[j]) !=
                   std::bit_cast<std::uint32_t>(
                       kernels::from_binary16(static_cast<std::uint16_t>(in[j])));
        CHECK(bad == 0);
    });
}
