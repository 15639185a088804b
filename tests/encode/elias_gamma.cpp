// SPDX-License-Identifier: MIT
// encode::elias_gamma in isolation and in pipelines. The scheme, from encode/elias_gamma.hpp and
// bit_writer::gamma: gamma(v), v >= 1, is N = floor(log2 v) zero bits, a one, then the N low bits
// of v, LSB first: 2N + 1 bits. Three modes:
//   indices sent:      per entry gamma(gap), gamma(code + 1); gap = index - previous index, the
//                      first gap index + 1;
//   zero code is zero: gamma(nnz + 1), then per nonzero code gamma(zeros skipped + 1), gamma(code);
//   otherwise:         per entry gamma(code + 1).
// The tests rebuild expected streams bit by bit from this description, compare message sizes of
// real pipelines with bit counts computed from their codes, check max_bytes as an upper bound,
// and feed malformed streams to the decoder.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
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

/// floor(log2 v) for v >= 1.
unsigned floor_log2(std::uint64_t v) {
    unsigned b = 0;
    while (v >>= 1)
        ++b;
    return b;
}
std::size_t gamma_bits(std::uint64_t v) { return 2 * floor_log2(v) + 1; }

/// A bit stream built from the documented definitions (independent of bit_writer).
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
        put(v, n); // the n low bits
    }
    std::vector<std::byte> bytes() const {
        std::vector<std::byte> out((bits.size() + 7) / 8, std::byte{0});
        for (std::size_t j = 0; j < bits.size(); ++j)
            if (bits[j])
                out[j / 8] |= std::byte{static_cast<unsigned char>(1u << (j % 8))};
        return out;
    }
};

/// The expected stream of a layout, following the three modes above.
bit_builder reference_stream(const code_layout& l, const std::vector<std::uint32_t>& indices,
                             const std::vector<std::uint32_t>& codes) {
    bit_builder b;
    if (l.sends_indices) {
        for (std::size_t j = 0; j < l.m; ++j) {
            b.gamma(j == 0 ? std::uint64_t{indices[0]} + 1
                           : std::uint64_t{indices[j]} - indices[j - 1]);
            b.gamma(std::uint64_t{codes[j]} + 1);
        }
    } else if (l.zero_code_is_zero) {
        const auto nnz = static_cast<std::size_t>(
            std::count_if(codes.begin(), codes.begin() + static_cast<std::ptrdiff_t>(l.m),
                          [](std::uint32_t c) { return c != 0; }));
        b.gamma(nnz + 1);
        std::size_t skipped = 0;
        for (std::size_t j = 0; j < l.m; ++j) {
            if (codes[j] == 0) {
                ++skipped;
                continue;
            }
            b.gamma(skipped + 1);
            b.gamma(codes[j]);
            skipped = 0;
        }
    } else {
        for (std::size_t j = 0; j < l.m; ++j)
            b.gamma(std::uint64_t{codes[j]} + 1);
    }
    return b;
}

std::vector<entry> expected_entries(const sample& s) {
    std::vector<entry> e;
    for (std::size_t j = 0; j < s.l.m; ++j) {
        if (!s.l.sends_indices && s.l.zero_code_is_zero && s.codes[j] == 0)
            continue; // not sent: the decoder leaves the zero slot alone
        e.push_back(
            {j, s.l.sends_indices ? s.indices[j] : static_cast<std::uint32_t>(j), s.codes[j]});
    }
    return e;
}

const encode::elias_gamma enc;

/// Position after reading one gamma code from the start of bytes.
std::uint64_t gamma_length(std::span<const std::byte> bytes, std::uint64_t& value) {
    bit_reader r(bytes, "gamma");
    value = r.gamma();
    return 8 * bytes.size() - r.remaining();
}

} // namespace

TEST_CASE("Elias gamma codes: 2 floor(log2 v) + 1 bits, documented bit pattern",
          "[encode][elias_gamma]") {
    struct row {
        std::uint64_t v;
        std::size_t bits;
        std::vector<std::byte> bytes;
    };
    const std::byte z{0};
    const row rows[] = {
        {1, 1, {std::byte{0b1}}},   // "1"
        {2, 3, {std::byte{0b010}}}, // "0 1 0": one zero, the one, low bit 0
        {3, 3, {std::byte{0b110}}}, // "0 1 1"
        {std::uint64_t{1} << 32,
         65,
         {z, z, z, z, std::byte{0b1}, z, z, z, z}}, // 32 zeros, 1, 32 zeros
        {(std::uint64_t{1} << 33) - 1,
         65,
         {z, z, z, z, std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
          std::byte{0x01}}},
    };
    for (const row& r : rows) {
        CAPTURE(r.v);
        CHECK(gamma_bits(r.v) == r.bits);
        std::vector<std::byte> buf(16);
        bit_writer w(buf);
        w.gamma(r.v);
        buf.resize(w.finish());
        CHECK(buf == r.bytes);
        bit_builder b;
        b.gamma(r.v);
        CHECK(b.bits.size() == r.bits);
        CHECK(b.bytes() == r.bytes);
        std::uint64_t back = 0;
        CHECK(gamma_length(buf, back) == r.bits);
        CHECK(back == r.v);
    }
    // Many values: the writer matches the definition and the reader stops after 2N + 1 bits.
    std::mt19937_64 rng(303);
    for (int t = 0; t < 2000; ++t) {
        std::uint64_t v = rng() >> (31 + rng() % 33); // up to 2^33 - 1: every code length
        v = v ? v : 1;
        std::vector<std::byte> buf(16);
        bit_writer w(buf);
        w.gamma(v);
        w.put(0x5a5a5a5a, 32); // followed by other data
        buf.resize(w.finish());
        bit_builder b;
        b.gamma(v);
        b.put(0x5a5a5a5a, 32);
        REQUIRE(buf == b.bytes());
        bit_reader r(buf, "gamma");
        CHECK(r.gamma() == v);
        CHECK(r.get(32) == 0x5a5a5a5au);
    }
}

TEST_CASE("elias_gamma matches the documented stream and round-trips random layouts",
          "[encode][elias_gamma]") {
    std::mt19937_64 rng(404);
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

TEST_CASE("elias_gamma max_bytes bounds the worst layouts", "[encode][elias_gamma][bits]") {
    // Equality cases of the Jensen bound: equal power-of-two gaps and the widest codes, where the
    // bits are exactly 2 m log2(n/m) + m (2b + 2); the bound adds 8 bytes of slack.
    for (const unsigned b : {1u, 2u, 5u, 16u, 31u, 32u})
        for (const std::size_t gap : {std::size_t{1}, std::size_t{2}, std::size_t{32}}) {
            const std::size_t m = 64, n = m * gap;
            sample s;
            s.l = {n, m, true, b, false};
            for (std::size_t j = 0; j < m; ++j) {
                s.indices.push_back(static_cast<std::uint32_t>(j * gap + gap - 1));
                s.codes.push_back(static_cast<std::uint32_t>((std::uint64_t{1} << b) - 1));
            }
            CAPTURE(b, gap);
            const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
            const std::size_t bits = 2 * m * floor_log2(gap) + m * (2 * b + 2);
            CHECK(reference_stream(s.l, s.indices, s.codes).bits.size() == bits);
            CHECK(bytes.size() == (bits + 7) / 8);
            CHECK(bytes.size() <= enc.max_bytes(s.l));
            CHECK(bytes.size() + 9 >= enc.max_bytes(s.l)); // and the bound is tight
            // Zero-run mode, every code nonzero and widest; and the plain mode.
            for (const bool zero_is_zero : {true, false}) {
                code_layout d{m, m, false, b, zero_is_zero};
                const auto db = encode_all(enc, d, {}, s.codes);
                CHECK(db.size() <= enc.max_bytes(d));
                CHECK(db.size() == (reference_stream(d, {}, s.codes).bits.size() + 7) / 8);
            }
        }
    // Zero-run mode with 1-bit codes: the worst density is about m / 1.36 nonzeros.
    std::mt19937_64 rng(505);
    for (int t = 0; t < 300; ++t) {
        const std::size_t m = 1 + rng() % 3000;
        const unsigned b = 1 + static_cast<unsigned>(rng() % 3);
        const double density = static_cast<double>(rng() % 1001) / 1000.0;
        std::vector<std::uint32_t> codes(m);
        std::bernoulli_distribution nz(density);
        for (auto& c : codes)
            c = nz(rng) ? static_cast<std::uint32_t>((1u << b) - 1) : 0u;
        const code_layout l{m, m, false, b, true};
        CAPTURE(m, b, density);
        CHECK(encode_all(enc, l, {}, codes).size() <= enc.max_bytes(l));
    }
}

TEST_CASE("elias_gamma decoder rejects malformed streams", "[encode][elias_gamma][decode]") {
    auto decode = [](const code_layout& l, const bit_builder& b) {
        return decode_all(enc, l, b.bytes());
    };
    const code_layout sent{100, 3, true, 8, false};
    const code_layout runs{10, 10, false, 8, true};
    const code_layout plain{10, 3, false, 8, false};
    SECTION("truncated streams, in each mode") {
        for (const code_layout& l : {sent, runs, plain}) {
            std::vector<std::uint32_t> idx = {3, 50, 99}, codes(l.m, 5);
            auto bytes =
                encode_all(enc, l, l.sends_indices ? idx : std::vector<std::uint32_t>{}, codes);
            CHECK_NOTHROW(decode_all(enc, l, bytes));
            bytes.pop_back();
            CHECK_THROWS_AS(decode_all(enc, l, bytes), decode_error);
            CHECK_THROWS_WITH(decode_all(enc, l, bytes), Catch::Contains("payload: truncated"));
        }
        CHECK_THROWS_WITH(decode_all(enc, sent, {}), Catch::Contains("truncated"));
    }
    SECTION("an index at or beyond n") {
        bit_builder b;
        b.gamma(100 + 1); // first index 100 = n
        b.gamma(1);
        CHECK_THROWS_WITH(decode(sent, b),
                          Catch::Contains("elias_gamma: index of entry 0 is 100") &&
                              Catch::Contains("below n = 100"));
        bit_builder c;
        c.gamma(50);
        c.gamma(1);
        c.gamma(60); // 49 + 60 = 109
        c.gamma(1);
        CHECK_THROWS_WITH(decode(sent, c), Catch::Contains("index of entry 1 is 109"));
    }
    SECTION("a code longer than 65 bits") {
        bit_builder b;
        for (int j = 0; j < 33; ++j)
            b.bits.push_back(false);
        b.bits.push_back(true);
        b.put(0, 33);
        for (const code_layout& l : {sent, runs, plain})
            CHECK_THROWS_WITH(decode(l, b),
                              Catch::Contains("Elias gamma code longer than 65 bits"));
        bit_builder zeros; // nothing but zeros: also too long, not an endless loop
        zeros.put(0, 64);
        zeros.put(0, 64);
        CHECK_THROWS_AS(decode(plain, zeros), decode_error);
    }
    SECTION("a nonzero count above m") {
        bit_builder b;
        b.gamma(runs.m + 2); // nnz = 11 > 10
        CHECK_THROWS_WITH(decode(runs, b),
                          Catch::Contains("elias_gamma: nonzero count: got 11, expected 10"));
    }
    SECTION("a run of zeros passing the end") {
        bit_builder b;
        b.gamma(2);  // one nonzero
        b.gamma(11); // skip 10 zeros: slot 10 of 10
        b.gamma(1);
        CHECK_THROWS_WITH(decode(runs, b),
                          Catch::Contains("run of zeros passes the end (slot 10 of 10)"));
        bit_builder c;
        c.gamma(3);
        c.gamma(9); // slot 8
        c.gamma(1);
        c.gamma(2); // slot 10
        c.gamma(1);
        CHECK_THROWS_WITH(decode(runs, c), Catch::Contains("passes the end"));
    }
    SECTION("a code wider than 32 bits, in each mode") {
        const std::uint64_t too_wide = std::uint64_t{1} << 32; // as a code, or code + 1 = 2^32 + 1
        bit_builder a;
        a.gamma(1);
        a.gamma(too_wide + 1);
        CHECK_THROWS_WITH(decode(sent, a), Catch::Contains("elias_gamma: code wider than 32 bits"));
        bit_builder b;
        b.gamma(2);
        b.gamma(1);
        b.gamma(too_wide);
        CHECK_THROWS_WITH(decode(runs, b), Catch::Contains("code wider than 32 bits"));
        bit_builder c;
        c.gamma(too_wide + 1);
        CHECK_THROWS_WITH(decode(plain, c), Catch::Contains("code wider than 32 bits"));
        // The widest valid code, 2^32 - 1, decodes.
        bit_builder d;
        d.gamma(1);
        d.gamma(too_wide);
        for (int j = 0; j < 2; ++j) {
            d.gamma(1);
            d.gamma(1);
        }
        CHECK(decode(sent, d).front().code == 0xffff'ffffu);
    }
}

namespace {

/// binary16 code of a value that is exactly a binary16 value (decoded fp16 output).
std::uint32_t exact_half_code(float f) {
    const std::uint32_t sign = std::signbit(f) ? 0x8000u : 0u;
    const double a = std::abs(static_cast<double>(f));
    if (a == 0)
        return sign;
    if (std::isinf(a))
        return sign | 0x7c00u;
    const int e = std::ilogb(a);
    if (e < -14)
        return sign | static_cast<std::uint32_t>(std::ldexp(a, 24)); // subnormal: units of 2^-24
    return sign | (static_cast<std::uint32_t>(e + 15) << 10) |
           static_cast<std::uint32_t>(std::ldexp(a, 10 - e) - 1024);
}

float scale_at(std::span<const std::byte> msg, std::size_t k) {
    std::uint32_t v = 0;
    for (unsigned b = 0; b < 4; ++b)
        v |= std::uint32_t{std::to_integer<std::uint8_t>(msg[message_header::size + 4 * k + b])}
             << (8 * b);
    return std::bit_cast<float>(v);
}

/// QSGD codes recovered from decoded values: level = |C_i| s / nf rounded (exact: C_i is the
/// binary32 rounding of nf l / s), code = level << 1 | sign.
std::vector<std::uint32_t> qsgd_codes(const std::vector<float>& out, std::span<const std::byte> msg,
                                      std::uint32_t s, std::size_t bucket) {
    std::vector<std::uint32_t> codes(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        const double nf = scale_at(msg, bucket ? i / bucket : 0);
        if (!(nf > 0)) // a zero bucket sends only zero codes
            continue;
        const auto level = static_cast<std::uint32_t>(std::lround(std::abs(out[i]) * s / nf));
        codes[i] = (level << 1) | (level != 0 && std::signbit(out[i]) ? 1u : 0u);
    }
    return codes;
}

/// Reference top-k (stable sort by decreasing |x|: ties to the lowest index), ascending.
std::vector<std::uint32_t> top_indices(const std::vector<float>& x, std::size_t k) {
    std::vector<std::uint32_t> order(x.size());
    std::iota(order.begin(), order.end(), std::uint32_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        return std::abs(x[a]) > std::abs(x[b]);
    });
    order.resize(std::min(k, x.size()));
    std::sort(order.begin(), order.end());
    return order;
}

std::size_t payload_bytes(std::size_t scale_count, const bit_builder& b) {
    return (32 * scale_count + b.bits.size() + 7) / 8;
}

} // namespace

TEST_CASE("Elias-coded pipelines: message size = header + exact bit count of their codes",
          "[encode][elias_gamma][bits]") {
    for (const tv::shape sh : tv::all_shapes)
        for (const std::size_t n : {1u, 10u, 300u, 1000u}) {
            CAPTURE(tv::name(sh), n);
            const auto x = tv::make<float>(sh, n, 700 + n);
            const std::span<const float> xs(x);
            for (int step = 0; step < 3; ++step) {
                { // qsgd: zero-run mode, one norm or one per bucket
                    for (const std::uint32_t s : {1u, 4u, 16u})
                        for (const std::size_t bucket : {std::size_t{0}, std::size_t{128}}) {
                            CAPTURE(s, bucket);
                            pipeline<sparsify::identity, quantize::qsgd, encode::elias_gamma> p(
                                sparsify::identity{}, quantize::qsgd{.levels = s, .bucket = bucket},
                                {}, seed{static_cast<std::uint64_t>(step)});
                            const auto msg = p.compress(xs);
                            std::vector<float> out(n);
                            p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                            const auto codes = qsgd_codes(out, msg, s, bucket);
                            const code_layout l{n, n, false, p.quantizer().code_bits(), true};
                            const std::size_t norms = bucket ? (n + bucket - 1) / bucket : 1;
                            CHECK(msg.size() ==
                                  48 + payload_bytes(norms, reference_stream(l, {}, codes)));
                            CHECK(msg.size() <= p.max_message_size(n));
                        }
                }
                { // top_k + qsgd: indices-sent mode
                    const std::size_t k = std::max<std::size_t>(1, n / 10);
                    recipes::topk_qsgd p(sparsify::top_k{.k = k}, quantize::qsgd{.levels = 8}, {},
                                         seed{static_cast<std::uint64_t>(step)});
                    const auto msg = p.compress(xs);
                    std::vector<float> out(n);
                    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                    const auto idx = top_indices(x, k);
                    std::vector<float> kept;
                    for (const std::uint32_t i : idx)
                        kept.push_back(out[i]);
                    const auto codes = qsgd_codes(kept, msg, 8, 0);
                    const code_layout l{n, k, true, p.quantizer().code_bits(), true};
                    CHECK(msg.size() == 48 + payload_bytes(1, reference_stream(l, idx, codes)));
                    CHECK(msg.size() <= p.max_message_size(n));
                }
                { // top_k + fp32: indices-sent mode with 32-bit codes
                    const std::size_t k = std::max<std::size_t>(1, n / 4);
                    pipeline<sparsify::top_k, quantize::identity, encode::elias_gamma> p(
                        sparsify::top_k{.k = k});
                    const auto msg = p.compress(xs);
                    const auto idx = top_indices(x, k);
                    std::vector<std::uint32_t> codes;
                    for (const std::uint32_t i : idx)
                        codes.push_back(std::bit_cast<std::uint32_t>(x[i]));
                    const code_layout l{n, k, true, 32, true};
                    CHECK(msg.size() == 48 + payload_bytes(0, reference_stream(l, idx, codes)));
                    CHECK(msg.size() <= p.max_message_size(n));
                }
                { // fp16: zero-run mode with 16-bit codes
                    pipeline<sparsify::identity, quantize::fp16_sr, encode::elias_gamma> p(
                        {}, {}, {}, seed{static_cast<std::uint64_t>(step)});
                    const auto msg = p.compress(xs);
                    std::vector<float> out(n);
                    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                    std::vector<std::uint32_t> codes;
                    for (const float v : out)
                        codes.push_back(exact_half_code(v));
                    const code_layout l{n, n, false, 16, true};
                    CHECK(msg.size() == 48 + payload_bytes(0, reference_stream(l, {}, codes)));
                    CHECK(msg.size() <= p.max_message_size(n));
                }
                { // scaled_sign: plain mode, 1 bit for +, 3 bits for -
                    pipeline<sparsify::identity, quantize::scaled_sign, encode::elias_gamma> p;
                    const auto msg = p.compress(xs);
                    std::size_t bits = 32;
                    for (const float v : x)
                        bits += std::signbit(v) ? 3 : 1; // gamma(2), gamma(1)
                    CHECK(msg.size() == 48 + (bits + 7) / 8);
                    CHECK(msg.size() <= p.max_message_size(n));
                }
            }
        }
}

TEST_CASE("Elias-coded messages never exceed max_message_size", "[encode][elias_gamma][bits]") {
    recipes::qsgd a(sparsify::identity{}, quantize::qsgd{.levels = 3});
    recipes::qsgd b(sparsify::identity{}, quantize::qsgd{.levels = 1u << 20, .bucket = 50});
    recipes::topk_qsgd c(sparsify::top_k{.ratio = 0.3}, quantize::qsgd{.levels = 2});
    pipeline<sparsify::rand_k, quantize::fp16, encode::elias_gamma> d(
        sparsify::rand_k{.ratio = 0.5});
    pipeline<sparsify::top_k, quantize::identity, encode::elias_gamma> e(
        sparsify::top_k{.ratio = 0.9});
    std::mt19937_64 rng(606);
    std::size_t checked = 0;
    for (int t = 0; t < 200; ++t) {
        const auto sh = tv::all_shapes[rng() % 6];
        const std::size_t n = rng() % 2000;
        const auto x = tv::make<float>(sh, n, rng());
        const std::span<const float> xs(x);
        CHECK(a.compress(xs).size() <= a.max_message_size(n));
        CHECK(b.compress(xs).size() <= b.max_message_size(n));
        CHECK(c.compress(xs).size() <= c.max_message_size(n));
        CHECK(d.compress(xs).size() <= d.max_message_size(n));
        CHECK(e.compress(xs).size() <= e.max_message_size(n));
        checked += 5;
    }
    CHECK(checked == 1000);
    // n = 0: one byte in zero-run mode (gamma(1)), nothing otherwise.
    const std::vector<float> none;
    CHECK(a.compress(std::span<const float>(none)).size() == 49);
    CHECK(e.compress(std::span<const float>(none)).size() == 48);
}
