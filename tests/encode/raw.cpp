// SPDX-License-Identifier: MIT
// encode::raw in isolation and in pipelines: per entry a little-endian u32 index (when indices are
// sent) and the code in 1, 2 or 4 bytes; exact sizes; round trips of random layouts through
// bit_writer / bit_reader; decode_error on truncated streams and on bad indices.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <tuple>
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

unsigned code_bytes(unsigned bits) { return bits <= 8 ? 1 : bits <= 16 ? 2 : 4; }

} // namespace

TEST_CASE("raw round-trips random layouts at its exact size", "[encode][raw]") {
    std::mt19937_64 rng(101);
    const encode::raw enc;
    for (int t = 0; t < 400; ++t) {
        const sample s = random_layout(rng);
        CAPTURE(t, s.l.n, s.l.m, s.l.code_bits, s.l.sends_indices, s.l.zero_code_is_zero);
        const std::size_t want = s.l.m * ((s.l.sends_indices ? 4 : 0) + code_bytes(s.l.code_bits));
        CHECK(enc.max_bytes(s.l) == want);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        CHECK(bytes.size() == want);
        CHECK(decode_all(enc, s.l, bytes) == all_entries(s));
    }
}

TEST_CASE("raw byte layout: u32 index, then the code in 1, 2 or 4 little-endian bytes",
          "[encode][raw]") {
    const encode::raw enc;
    for (unsigned b = 1; b <= 32; ++b)
        CHECK(enc.code_bytes(b) == code_bytes(b));
    const std::vector<std::uint32_t> idx = {3, 0x01020304};
    const std::vector<std::uint32_t> codes = {0xabcd, 0x0102};
    const code_layout l{0x0200'0000, 2, true, 16, false};
    const auto bytes = encode_all(enc, l, idx, codes);
    const std::vector<std::byte> want = {std::byte{0x03}, std::byte{0},    std::byte{0},
                                         std::byte{0},    std::byte{0xcd}, std::byte{0xab},
                                         std::byte{0x04}, std::byte{0x03}, std::byte{0x02},
                                         std::byte{0x01}, std::byte{0x02}, std::byte{0x01}};
    CHECK(bytes == want);
    const code_layout dense{3, 3, false, 5, true};
    const auto b5 = encode_all(enc, dense, {}, {31, 0, 7});
    CHECK(b5 == std::vector<std::byte>{std::byte{31}, std::byte{0}, std::byte{7}});
}

TEST_CASE("raw decoder rejects truncated streams and bad indices", "[encode][raw][decode]") {
    const encode::raw enc;
    const code_layout l{10, 3, true, 32, false};
    const auto good = encode_all(enc, l, {1, 5, 9}, {7, 8, 9});
    auto decode = [&](std::vector<std::byte> bytes) { return decode_all(enc, l, bytes); };
    CHECK(decode(good).size() == 3);
    auto cut = good;
    cut.pop_back();
    CHECK_THROWS_AS(decode(cut), decode_error);
    CHECK_THROWS_WITH(decode(cut), Catch::Contains("payload: truncated"));
    CHECK_THROWS_WITH(decode({}), Catch::Contains("truncated"));
    // Indices not ascending: 1, 5, 5 and 1, 5, 2.
    CHECK_THROWS_WITH(decode(encode_all(enc, l, {1, 5, 5}, {7, 8, 9})),
                      Catch::Contains("raw: index of entry 2 is 5; indices must be ascending") &&
                          Catch::Contains("(previous 5)"));
    CHECK_THROWS_WITH(decode(encode_all(enc, l, {1, 5, 2}, {7, 8, 9})),
                      Catch::Contains("indices must be ascending"));
    // Index >= n.
    CHECK_THROWS_WITH(decode(encode_all(enc, l, {1, 5, 10}, {7, 8, 9})),
                      Catch::Contains("index of entry 2 is 10") && Catch::Contains("below n = 10"));
    CHECK_THROWS_AS(decode(encode_all(enc, l, {0xffff'ffffu, 5, 10}, {7, 8, 9})), decode_error);
}

TEST_CASE("raw in pipelines: 4n for fp32, 2n for fp16, 8k for top_k, 4k for rand_k, n + 4 for qsgd",
          "[encode][raw][bits]") {
    for (const std::size_t n : {0u, 1u, 10u, 1000u}) {
        CAPTURE(n);
        const auto x = tv::make<float>(tv::shape::gaussian, n, 4);
        const std::span<const float> xs(x);
        const std::size_t k = std::min<std::size_t>(n, 7);
        recipes::fp32 a;
        recipes::fp16 b;
        pipeline<sparsify::top_k, quantize::identity, encode::raw> c(sparsify::top_k{.k = 7});
        recipes::rand_k d(sparsify::rand_k{.k = 7});
        pipeline<sparsify::identity, quantize::qsgd, encode::raw> e(sparsify::identity{},
                                                                    quantize::qsgd{.levels = 4});
        CHECK(a.compress(xs).size() == 48 + 4 * n);
        CHECK(b.compress(xs).size() == 48 + 2 * n);
        CHECK(c.compress(xs).size() == 48 + 8 * k);
        CHECK(d.compress(xs).size() == 48 + 4 * k);
        CHECK(e.compress(xs).size() == 48 + (n ? 4 + n : 0)); // 4-bit codes in 1 byte each
        // And they decode: top_k + raw equals top_k + bitpack.
        recipes::top_k f(sparsify::top_k{.k = 7});
        std::vector<float> o1(n), o2(n);
        c.decompress(std::span<const std::byte>(c.compress(xs)), std::span<float>(o1));
        f.decompress(std::span<const std::byte>(f.compress(xs)), std::span<float>(o2));
        CHECK(o1 == o2);
    }
}
