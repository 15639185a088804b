// SPDX-License-Identifier: MIT
// encode::elias_delta in isolation and in pipelines. The scheme, from encode/elias_delta.hpp:
// delta(v), v >= 1, is gamma(N + 1) then the N low bits of v, LSB first, N = floor(log2 v);
// gamma(u) is floor(log2 u) zero bits, a one, then the floor(log2 u) low bits of u. Three modes:
//   indices sent:      per entry delta(gap), delta(code + 1); the first gap is index + 1;
//   zero code is zero: delta(nnz + 1), then per nonzero code delta(zeros skipped + 1),
//                      delta(code);
//   otherwise:         per entry delta(code + 1).
// The tests rebuild expected streams bit by bit from this description (independently of
// bit_writer), check code lengths, max_bytes as an upper bound, real pipelines, and malformed
// streams.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/encode/elias_delta.hpp>
#include <commpress/quantize/terngrad.hpp>
#include <commpress/quantize/uniform.hpp>
#include <commpress/recipes.hpp>

#include "encode/layouts.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;
using tv::decode_all;
using tv::encode_all;
using tv::entry;
using tv::random_layout;
using tv::sample;

static_assert(encoder<encode::elias_delta>);

unsigned floor_log2(std::uint64_t v) {
    unsigned b = 0;
    while (v >>= 1)
        ++b;
    return b;
}
/// N + 1 + 2 floor(log2(N + 1)), N = floor(log2 v).
std::size_t delta_bits(std::uint64_t v) {
    const unsigned n = floor_log2(v);
    return n + 1 + 2 * floor_log2(n + 1);
}

struct bit_builder {
    std::vector<bool> bits;
    void put(std::uint64_t v, unsigned width) {
        for (unsigned j = 0; j < width; ++j)
            bits.push_back((v >> j) & 1u);
    }
    void gamma(std::uint64_t v) {
        const unsigned n = floor_log2(v);
        for (unsigned j = 0; j < n; ++j)
            bits.push_back(false);
        bits.push_back(true);
        put(v, n);
    }
    void delta(std::uint64_t v) {
        const unsigned n = floor_log2(v);
        gamma(n + 1);
        put(v, n);
    }
    std::vector<std::byte> bytes() const {
        std::vector<std::byte> out((bits.size() + 7) / 8, std::byte{0});
        for (std::size_t j = 0; j < bits.size(); ++j)
            if (bits[j])
                out[j / 8] |= std::byte{static_cast<unsigned char>(1u << (j % 8))};
        return out;
    }
};

bit_builder reference_stream(const code_layout& l, const std::vector<std::uint32_t>& indices,
                             const std::vector<std::uint32_t>& codes) {
    bit_builder b;
    if (l.sends_indices) {
        for (std::size_t j = 0; j < l.m; ++j) {
            b.delta(j == 0 ? std::uint64_t{indices[0]} + 1
                           : std::uint64_t{indices[j]} - indices[j - 1]);
            b.delta(std::uint64_t{codes[j]} + 1);
        }
    } else if (l.zero_code_is_zero) {
        std::size_t nnz = 0;
        for (std::size_t j = 0; j < l.m; ++j)
            nnz += codes[j] != 0;
        b.delta(nnz + 1);
        std::size_t skipped = 0;
        for (std::size_t j = 0; j < l.m; ++j) {
            if (codes[j] == 0) {
                ++skipped;
                continue;
            }
            b.delta(skipped + 1);
            b.delta(codes[j]);
            skipped = 0;
        }
    } else {
        for (std::size_t j = 0; j < l.m; ++j)
            b.delta(std::uint64_t{codes[j]} + 1);
    }
    return b;
}

std::vector<entry> expected_entries(const sample& s) {
    std::vector<entry> e;
    for (std::size_t j = 0; j < s.l.m; ++j) {
        if (!s.l.sends_indices && s.l.zero_code_is_zero && s.codes[j] == 0)
            continue;
        e.push_back(
            {j, s.l.sends_indices ? s.indices[j] : static_cast<std::uint32_t>(j), s.codes[j]});
    }
    return e;
}

const encode::elias_delta enc;

/// Decodes a hand-built stream with the given layout; returns what the decoder throws.
void decode_bits(const code_layout& l, const bit_builder& b) {
    const auto bytes = b.bytes();
    (void)decode_all(enc, l, bytes);
}

} // namespace

TEST_CASE("Elias delta codes: lengths and documented bit patterns", "[encode][elias_delta]") {
    struct row {
        std::uint64_t v;
        std::size_t bits;
        std::vector<std::byte> bytes;
    };
    const std::byte z{0};
    const row rows[] = {
        {1, 1, {std::byte{0b1}}},        // gamma(1) = "1"
        {2, 4, {std::byte{0b0010}}},     // gamma(2) = "010", low bit of 2: "0"
        {3, 4, {std::byte{0b1010}}},     // "010", "1"
        {4, 5, {std::byte{0b00110}}},    // gamma(3) = "011", low bits of 4: "00"
        {7, 5, {std::byte{0b11110}}},    // "011", "11"
        {8, 8, {std::byte{0b00000100}}}, // gamma(4) = "00100", "000" (bit 2 set)
        // gamma(33) = "00000" "1" "10000" (11 bits: 33 = 100001b, low 5 bits LSB first 1,0,0,0,0:
        // bits 5 and 6 of byte 0),
        // then the 32 low bits of 2^32 (zeros): 43 bits.
        {std::uint64_t{1} << 32, 43, {std::byte{0b01100000}, std::byte{0b00000000}, z, z, z, z}},
        {(std::uint64_t{1} << 33) - 1,
         43,
         {std::byte{0b01100000}, std::byte{0xf8}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
          std::byte{0x07}}},
    };
    for (const row& r : rows) {
        CAPTURE(r.v);
        CHECK(delta_bits(r.v) == r.bits);
        CHECK(encode::elias_delta::length(r.v) == r.bits);
        std::vector<std::byte> buf(16);
        bit_writer w(buf);
        encode::elias_delta::put(w, r.v);
        buf.resize(w.finish());
        bit_builder b;
        b.delta(r.v);
        CHECK(b.bits.size() == r.bits);
        CHECK(b.bytes() == r.bytes);
        CHECK(buf == r.bytes);
        bit_reader rd(buf, "delta");
        CHECK(encode::elias_delta::get(rd) == r.v);
        CHECK(8 * buf.size() - rd.remaining() == r.bits);
    }
    // Many values: writer = definition, reader stops after the code.
    std::mt19937_64 rng(808);
    for (int t = 0; t < 3000; ++t) {
        std::uint64_t v = rng() >> (31 + rng() % 33);
        v = v ? v : 1;
        std::vector<std::byte> buf(16);
        bit_writer w(buf);
        encode::elias_delta::put(w, v);
        w.put(0xa5a5a5a5u, 32);
        buf.resize(w.finish());
        bit_builder b;
        b.delta(v);
        b.put(0xa5a5a5a5u, 32);
        REQUIRE(buf == b.bytes());
        CHECK(b.bits.size() == delta_bits(v) + 32);
        bit_reader rd(buf, "delta");
        CHECK(encode::elias_delta::get(rd) == v);
        CHECK(rd.get(32) == 0xa5a5a5a5u);
    }
}

TEST_CASE("elias_delta matches the documented stream and round-trips random layouts",
          "[encode][elias_delta]") {
    std::mt19937_64 rng(909);
    for (int t = 0; t < 600; ++t) {
        const sample s = random_layout(rng);
        CAPTURE(t, s.l.n, s.l.m, s.l.code_bits, s.l.sends_indices, s.l.zero_code_is_zero);
        const bit_builder ref = reference_stream(s.l, s.indices, s.codes);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        CHECK(bytes == ref.bytes());
        CHECK(bytes.size() <= enc.max_bytes(s.l));
        CHECK(decode_all(enc, s.l, bytes) == expected_entries(s));
    }
}

TEST_CASE("elias_delta max_bytes bounds adversarial and random layouts",
          "[encode][elias_delta][bits]") {
    // Equal power-of-two gaps with the widest codes (Jensen's equality case, indices sent); all
    // runs of equal length e-ish (the zero-run maximiser) with widest codes; plain widest codes.
    std::size_t checked = 0;
    for (const unsigned b : {1u, 2u, 5u, 16u, 31u, 32u})
        for (const std::size_t gap : {1u, 2u, 3u, 8u, 1024u})
            for (const std::size_t m : {1u, 7u, 300u}) {
                CAPTURE(b, gap, m);
                const std::uint32_t wide = b == 32 ? 0xffff'ffffu : (1u << b) - 1;
                sample s;
                s.l = {gap * m, m, true, b, false};
                for (std::size_t j = 0; j < m; ++j) {
                    s.indices.push_back(static_cast<std::uint32_t>(gap * j + gap - 1));
                    s.codes.push_back(wide);
                }
                const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
                CHECK(bytes.size() <= enc.max_bytes(s.l));
                // zero-run mode: m slots, a nonzero every `gap` slots
                sample z;
                z.l = {m * gap, m * gap, false, b, true};
                for (std::size_t j = 0; j < m * gap; ++j)
                    z.codes.push_back(j % gap == gap - 1 ? wide : 0u);
                CHECK(encode_all(enc, z.l, {}, z.codes).size() <= enc.max_bytes(z.l));
                sample p;
                p.l = {m, m, false, b, false};
                p.codes.assign(m, wide);
                CHECK(encode_all(enc, p.l, {}, p.codes).size() <= enc.max_bytes(p.l));
                checked += 3;
            }
    CHECK(checked == 270);
    // Random layouts (many, small): never above the bound.
    std::mt19937_64 rng(111);
    for (int t = 0; t < 1000; ++t) {
        const sample s = random_layout(rng);
        CAPTURE(t, s.l.n, s.l.m, s.l.code_bits, s.l.sends_indices, s.l.zero_code_is_zero);
        CHECK(encode_all(enc, s.l, s.indices, s.codes).size() <= enc.max_bytes(s.l));
    }
    CHECK(enc.max_bytes(code_layout{0, 0, false, 8, true}) == 1);
}

TEST_CASE("elias_delta pipelines: exact sizes, round trips, never above max_message_size",
          "[encode][elias_delta][bits]") {
    using tern = pipeline<sparsify::identity, quantize::terngrad, encode::elias_delta>;
    using uni = pipeline<sparsify::identity, quantize::uniform, encode::elias_delta>;
    using topk = pipeline<sparsify::top_k, quantize::qsgd, encode::elias_delta>;
    using dense = pipeline<sparsify::identity, quantize::qsgd, encode::elias_delta>;
    using fp = pipeline<sparsify::top_k, quantize::identity, encode::elias_delta>;
    std::mt19937_64 rng(222);
    for (int t = 0; t < 120; ++t) {
        const auto sh = tv::all_shapes[rng() % 6];
        const std::size_t n = rng() % 1500;
        CAPTURE(t, tv::name(sh), n);
        const auto x = tv::make<float>(sh, n, rng());
        const std::span<const float> xs(x);
        tern a;
        uni b(sparsify::identity{}, quantize::uniform{.bits = 1u + static_cast<unsigned>(t % 8)});
        topk c(sparsify::top_k{.ratio = 0.2}, quantize::qsgd{.levels = 3});
        dense d(sparsify::identity{}, quantize::qsgd{.levels = 1u << 20, .bucket = 40});
        fp e(sparsify::top_k{.ratio = 0.7});
        CHECK(a.compress(xs).size() <= a.max_message_size(n));
        CHECK(b.compress(xs).size() <= b.max_message_size(n));
        CHECK(c.compress(xs).size() <= c.max_message_size(n));
        CHECK(d.compress(xs).size() <= d.max_message_size(n));
        CHECK(e.compress(xs).size() <= e.max_message_size(n));
        // Lossless stage: top_k + identity through delta decodes the kept values exactly, and the
        // message is the header plus the bit count of the documented stream.
        const auto msg = e.compress(xs);
        std::vector<float> out(n);
        e.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        std::vector<std::uint32_t> codes;
        // Same selection through bitpack: identical decoded tensors, bit for bit.
        pipeline<sparsify::top_k, quantize::identity, encode::bitpack> ref(
            sparsify::top_k{.ratio = 0.7});
        std::vector<float> out_ref(n);
        ref.decompress(std::span<const std::byte>(ref.compress(xs)), std::span<float>(out_ref));
        CHECK(std::memcmp(out.data(), out_ref.data(), n * sizeof(float)) == 0);
        // terngrad codes: 1 = +s, 2 = -s; size = header + scale + stream bits.
        if (n > 0) {
            const auto ma = a.compress(xs);
            std::vector<float> oa(n);
            a.decompress(std::span<const std::byte>(ma), std::span<float>(oa));
            for (const float v : oa)
                codes.push_back(v == 0 ? 0u : (std::signbit(v) ? 2u : 1u));
            const code_layout l{n, n, false, 2, true};
            CHECK(ma.size() == 48 + (32 + reference_stream(l, {}, codes).bits.size() + 7) / 8);
        }
    }
}

TEST_CASE("elias_delta rejects malformed streams", "[encode][elias_delta][decode]") {
    SECTION("truncated: a stream cut short") {
        const code_layout l{100, 3, true, 8, false};
        const auto bytes = encode_all(enc, l, {5, 50, 99}, {200, 0, 255});
        for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
            CAPTURE(cut);
            CHECK_THROWS_WITH(decode_all(enc, l, std::span<const std::byte>(bytes).first(cut)),
                              Catch::Contains("truncated"));
        }
    }
    SECTION("too long: trailing bytes or nonzero padding") {
        const code_layout l{0, 2, false, 4, false};
        auto bytes = encode_all(enc, l, {}, {3, 9});
        auto longer = bytes;
        longer.push_back(std::byte{0});
        CHECK_THROWS_WITH(decode_all(enc, l, longer), Catch::Contains("unused trailing bytes"));
        bit_builder b; // delta(4) delta(10) = 5 + 8 = 13 bits, then a stray one
        b.delta(4);
        b.delta(10);
        b.put(1, 1);
        CHECK_THROWS_WITH(decode_bits(l, b), Catch::Contains("nonzero padding bits"));
    }
    // A delta gap is >= 1, so a descending or repeated index cannot be written: the index check
    // (encode/detail/index_check.hpp) can only fire on indices >= n here.
    SECTION("indices at or beyond n") {
        const code_layout l{10, 2, true, 4, false};
        bit_builder b;
        b.delta(4); // index 3
        b.delta(1);
        b.delta(7); // index 10 = n
        b.delta(1);
        CHECK_THROWS_WITH(decode_bits(l, b),
                          Catch::Contains("elias_delta: index of entry 1 is 10; indices must be "
                                          "ascending and below n = 10"));
        bit_builder c;
        c.delta(std::uint64_t{1} << 32); // first index 2^32 - 1 >= n
        c.delta(1);
        CHECK_THROWS_WITH(decode_bits(l, c), Catch::Contains("index of entry 0"));
    }
    SECTION("nonzero count above m") {
        const code_layout l{5, 5, false, 3, true};
        bit_builder b;
        b.delta(7); // nnz = 6 > 5
        CHECK_THROWS_WITH(decode_bits(l, b),
                          Catch::Contains("elias_delta: nonzero count: got 6, expected 5"));
    }
    SECTION("run of zeros past the end") {
        const code_layout l{5, 5, false, 3, true};
        bit_builder b;
        b.delta(3); // nnz = 2
        b.delta(4); // slot 3
        b.delta(1);
        b.delta(3); // slot 3 + 1 + 2 = 6 >= 5
        b.delta(1);
        CHECK_THROWS_WITH(
            decode_bits(l, b),
            Catch::Contains("elias_delta: run of zeros passes the end (slot 6 of 5)"));
    }
    SECTION("codes wider than 32 bits, and delta codes with N > 32") {
        bit_builder a; // plain: code + 1 = 2^32 + 1
        a.delta((std::uint64_t{1} << 32) + 1);
        CHECK_THROWS_WITH(decode_bits(code_layout{0, 1, false, 32, false}, a),
                          Catch::Contains("elias_delta: code wider than 32 bits"));
        bit_builder z; // zero runs: nnz 1, run 0, code 2^32
        z.delta(2);
        z.delta(1);
        z.delta(std::uint64_t{1} << 32);
        CHECK_THROWS_WITH(decode_bits(code_layout{1, 1, false, 32, true}, z),
                          Catch::Contains("elias_delta: code wider than 32 bits"));
        bit_builder big; // gamma(34): N = 33 mantissa bits
        big.gamma(34);
        big.put(0, 33);
        CHECK_THROWS_WITH(decode_bits(code_layout{0, 1, false, 32, false}, big),
                          Catch::Contains("elias_delta: delta code with 33 mantissa bits"));
        bit_builder huge; // a gamma prefix longer than bit_reader accepts
        for (int j = 0; j < 40; ++j)
            huge.bits.push_back(false);
        huge.bits.push_back(true);
        huge.put(0, 40);
        CHECK_THROWS_AS(decode_bits(code_layout{0, 1, false, 32, false}, huge), decode_error);
    }
    SECTION("through a pipeline: a damaged message leaves the output untouched") {
        pipeline<sparsify::top_k, quantize::qsgd, encode::elias_delta> p(
            sparsify::top_k{.k = 5}, quantize::qsgd{.levels = 4});
        const auto x = tv::make<float>(tv::shape::gaussian, 50, 3);
        const auto msg = p.compress(std::span<const float>(x));
        std::vector<float> out(50, 42.0f);
        auto cut = msg;
        cut.pop_back();
        CHECK_THROWS_AS(p.decompress(std::span<const std::byte>(cut), std::span<float>(out)),
                        decode_error);
        CHECK(out == std::vector<float>(50, 42.0f));
        CHECK_NOTHROW(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
    }
}
