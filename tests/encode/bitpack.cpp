// SPDX-License-Identifier: MIT
// encode::bitpack in isolation and in pipelines: per entry a ceil(log2 n)-bit index (when indices
// are sent) and a code_bits-bit code, packed LSB first with no gaps (bit j of the stream is bit
// j % 8 of byte j / 8); exactly ceil(m (ceil(log2 n) + b) / 8) bytes; decode_error on truncated
// streams and bad indices.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "encode/layouts.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;
using tv::all_entries;
using tv::decode_all;
using tv::encode_all;
using tv::entry;
using tv::random_layout;
using tv::sample;

unsigned ceil_log2(std::size_t n) {
    unsigned b = 0;
    while ((std::size_t{1} << b) < n)
        ++b;
    return b;
}

/// The stream as the documentation defines it, built bit by bit.
std::vector<std::byte> reference_stream(const sample& s) {
    std::vector<bool> bits;
    auto put = [&](std::uint64_t v, unsigned width) {
        for (unsigned j = 0; j < width; ++j)
            bits.push_back((v >> j) & 1u);
    };
    const unsigned ib = s.l.sends_indices ? ceil_log2(s.l.n) : 0;
    for (std::size_t j = 0; j < s.l.m; ++j) {
        if (s.l.sends_indices)
            put(s.indices[j], ib);
        put(s.codes[j], s.l.code_bits);
    }
    std::vector<std::byte> out((bits.size() + 7) / 8, std::byte{0});
    for (std::size_t j = 0; j < bits.size(); ++j)
        if (bits[j])
            out[j / 8] |= std::byte{static_cast<unsigned char>(1u << (j % 8))};
    return out;
}

} // namespace

TEST_CASE("bitpack matches the documented bit layout and round-trips random layouts",
          "[encode][bitpack]") {
    std::mt19937_64 rng(202);
    const encode::bitpack enc;
    for (int t = 0; t < 400; ++t) {
        const sample s = random_layout(rng);
        CAPTURE(t, s.l.n, s.l.m, s.l.code_bits, s.l.sends_indices, s.l.zero_code_is_zero);
        const unsigned ib = s.l.sends_indices ? ceil_log2(s.l.n) : 0;
        const std::size_t want = (s.l.m * (ib + s.l.code_bits) + 7) / 8;
        CHECK(enc.max_bytes(s.l) == want);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        CHECK(bytes == reference_stream(s));
        CHECK(decode_all(enc, s.l, bytes) == all_entries(s));
    }
    SECTION("every code width 1..32 with and without indices") {
        for (unsigned b = 1; b <= 32; ++b)
            for (const bool idx : {false, true}) {
                sample s;
                s.l = {1000, 37, idx, b, false};
                for (std::uint32_t j = 0; j < 37; ++j) {
                    s.indices.push_back(j * 27);
                    s.codes.push_back(static_cast<std::uint32_t>(
                        (0x9e37'79b9'7f4a'7c15ull * (j + 1)) >> (64 - b)));
                }
                CAPTURE(b, idx);
                const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
                CHECK(bytes == reference_stream(s));
                CHECK(decode_all(enc, s.l, bytes) == all_entries(s));
            }
    }
    SECTION("a hand-checked stream: n = 5 (3-bit indices), 2-bit codes") {
        // entry 0: index 1 = 001b -> bits 1 0 0, code 3 = 11b -> 1 1
        // entry 1: index 3 = 011b -> bits 1 1 0, code 2 = 10b -> 0 1
        // stream (bit 0 first): 1 0 0 1 1 1 1 0 | 0 1 -> bytes 0b01111001, 0b10
        const code_layout l{5, 2, true, 2, false};
        const auto bytes = encode_all(enc, l, {1, 3}, {3, 2});
        CHECK(bytes == std::vector<std::byte>{std::byte{0b0111'1001}, std::byte{0b10}});
        CHECK(decode_all(enc, l, bytes) == std::vector<entry>{{0, 1, 3}, {1, 3, 2}});
    }
}

TEST_CASE("bitpack decoder rejects truncated streams and bad indices",
          "[encode][bitpack][decode]") {
    const encode::bitpack enc;
    const code_layout l{10, 3, true, 7, false}; // 4-bit indices can say 10..15
    auto decode = [&](std::vector<std::byte> bytes) { return decode_all(enc, l, bytes); };
    const auto good = encode_all(enc, l, {0, 4, 9}, {1, 2, 127});
    CHECK(decode(good).size() == 3);
    auto cut = good;
    cut.pop_back(); // 33 bits -> 4 bytes remain: the last code is cut
    CHECK_THROWS_AS(decode(cut), decode_error);
    CHECK_THROWS_WITH(decode(cut), Catch::Contains("payload: truncated"));
    CHECK_THROWS_WITH(decode(encode_all(enc, l, {4, 4, 9}, {1, 2, 3})),
                      Catch::Contains("bitpack: index of entry 1 is 4; indices must be ascending"));
    CHECK_THROWS_WITH(decode(encode_all(enc, l, {4, 3, 9}, {1, 2, 3})),
                      Catch::Contains("indices must be ascending"));
    CHECK_THROWS_WITH(decode(encode_all(enc, l, {4, 5, 12}, {1, 2, 3})),
                      Catch::Contains("index of entry 2 is 12") && Catch::Contains("below n = 10"));
    CHECK_THROWS_WITH(decode(encode_all(enc, l, {15, 5, 12}, {1, 2, 3})),
                      Catch::Contains("index of entry 0 is 15"));
}

TEST_CASE("bitpack in pipelines: rand_k sends no index bits, fp16 16 bits per entry",
          "[encode][bitpack][bits]") {
    for (const std::size_t n : {0u, 1u, 10u, 1000u}) {
        CAPTURE(n);
        const auto x = tv::make<float>(tv::shape::gaussian, n, 5);
        const std::span<const float> xs(x);
        pipeline<sparsify::rand_k, quantize::identity, encode::bitpack> a(sparsify::rand_k{.k = 9});
        pipeline<sparsify::identity, quantize::fp16, encode::bitpack> b;
        pipeline<sparsify::top_k, quantize::fp16, encode::bitpack> c(sparsify::top_k{.k = 9});
        const std::size_t k = std::min<std::size_t>(n, 9);
        CHECK(a.compress(xs).size() == 48 + 4 * k);
        CHECK(b.compress(xs).size() == 48 + 2 * n);
        CHECK(c.compress(xs).size() == 48 + (k * (16 + ceil_log2(n)) + 7) / 8);
        // Same values as the raw encoder would give.
        recipes::fp16 r;
        std::vector<float> o1(n), o2(n);
        b.decompress(std::span<const std::byte>(b.compress(xs)), std::span<float>(o1));
        r.decompress(std::span<const std::byte>(r.compress(xs)), std::span<float>(o2));
        CHECK(o1 == o2);
    }
}
