// SPDX-License-Identifier: MIT
// kernels::pack / unpack against the bit stream they replace (bit_writer::put, bit_reader::get)
// for every width 1..32, on every compiled architecture, over awkward sizes and unaligned spans.
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <catch2/catch.hpp>
#include <xsimd/config/xsimd_arch.hpp>

#include <commpress/core/bitstream.hpp>
#include <commpress/kernels/bitpack.hpp>

namespace {

using namespace commpress;

/// Random codes of `width` bits; the top code value and zero appear at the ends.
std::vector<std::uint32_t> codes_of(std::size_t n, unsigned width, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const std::uint32_t mask = width == 32 ? ~0u : (1u << width) - 1;
    std::vector<std::uint32_t> c(n);
    for (auto& v : c)
        v = static_cast<std::uint32_t>(rng()) & mask;
    if (n > 1) {
        c.front() = mask;
        c.back() = 0;
    }
    return c;
}

/// The reference: one put per code from a byte boundary, then the zero padding of finish().
std::vector<std::byte> put_codes(std::span<const std::uint32_t> c, unsigned width) {
    std::vector<std::byte> out(kernels::packed_bytes(c.size(), width) + 8);
    bit_writer w(out);
    for (const std::uint32_t v : c)
        w.put(v, width);
    out.resize(w.finish());
    return out;
}

} // namespace

TEST_CASE("pack and unpack equal bit_writer and bit_reader for every width and architecture",
          "[kernels][bitpack]") {
    const std::size_t n = GENERATE(0u, 1u, 7u, 64u, 4099u); // empty, tail only, groups, long tail
    const unsigned width = GENERATE(range(1u, 33u));
    const auto codes = codes_of(n + 1, width, 1000 * n + width);
    // Offset by one element and one byte: the kernels must not assume aligned spans.
    const std::span<const std::uint32_t> in = std::span(codes).subspan(1);
    const std::vector<std::byte> want = put_codes(in, width);
    REQUIRE(want.size() == kernels::packed_bytes(n, width));
    xsimd::supported_architectures::for_each([&](auto arch) { // noexcept: CHECK, never REQUIRE
        INFO("arch " << arch.name() << ", n = " << n << ", width = " << width);
        std::vector<std::byte> packed(want.size() + 1, std::byte{0xa5});
        kernels::pack(arch, in, width, std::span(packed).subspan(1, want.size()));
        CHECK(std::equal(want.begin(), want.end(), packed.begin() + 1));
        CHECK(packed.front() == std::byte{0xa5}); // nothing written outside the span

        std::vector<std::uint32_t> back(n + 1, 0xdead'beefu);
        kernels::unpack(arch, std::span<const std::byte>(want), width, std::span(back).subspan(1));
        CHECK(back.front() == 0xdead'beefu);
        CHECK(std::equal(in.begin(), in.end(), back.begin() + 1));
    });
}

TEST_CASE("bit_writer aligned_bytes continues the stream where the bulk write ends",
          "[kernels][bitpack]") {
    // 3 codes of 5 bits in bulk (15 bits: a partial last byte), then a put: the same bytes as
    // four puts.
    const std::uint32_t c[] = {31, 1, 18};
    std::vector<std::byte> a(16), b(16);
    bit_writer wa(a), wb(b);
    wa.put(0xabcd, 16);
    wa.aligned_bytes(15, [&](std::span<std::byte> out) {
        REQUIRE(out.size() == 2);
        kernels::pack(xsimd::default_arch{}, std::span<const std::uint32_t>(c), 5, out);
    });
    wa.put(0x5a, 7);
    wb.put(0xabcd, 16);
    for (const std::uint32_t v : c)
        wb.put(v, 5);
    wb.put(0x5a, 7);
    REQUIRE(wa.finish() == wb.finish());
    CHECK(a == b);
}
