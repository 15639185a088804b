// SPDX-License-Identifier: MIT
// encode::rans: streams rebuilt from the documented format, round trips, the max_bytes bound, the
// 2% entropy target on real QSGD levels, malformed streams, and pipelines against bitpack.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
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
using tv::random_layout;
using tv::sample;

const encode::rans enc;
constexpr std::uint64_t M = std::uint64_t{1} << 15, L = std::uint64_t{1} << 23;

std::size_t gamma_bits(std::uint64_t v) { return 2 * (std::bit_width(v) - 1) + 1; }

/// A bit stream built from the documented definitions (independent of bit_writer).
struct bit_builder {
    std::vector<bool> bits;
    void put(std::uint64_t v, unsigned width) {
        for (unsigned j = 0; j < width; ++j)
            bits.push_back((v >> j) & 1u);
    }
    void gamma(std::uint64_t v) {
        const auto n = static_cast<unsigned>(std::bit_width(v)) - 1;
        for (unsigned j = 0; j < n; ++j)
            bits.push_back(false);
        bits.push_back(true);
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

/// The stream as encode/rans.hpp documents it, with its parts counted.
struct reference {
    bit_builder b;
    std::size_t table_bits = 0, chunks = 0;
};

reference reference_stream(const code_layout& l, const std::vector<std::uint32_t>& indices,
                           const std::vector<std::uint32_t>& codes) {
    reference r;
    for (std::size_t j = 0; l.sends_indices && j < l.m; ++j)
        r.b.gamma(j == 0 ? std::uint64_t{indices[0]} + 1 : indices[j] - indices[j - 1]);
    if (l.code_bits > 12) {
        for (std::size_t j = 0; j < l.m; ++j)
            r.b.put(codes[j], l.code_bits);
        return r;
    }
    if (l.m == 0)
        return r;
    std::map<std::uint32_t, std::uint64_t> count, f, start;
    for (std::size_t j = 0; j < l.m; ++j)
        ++count[codes[j]];
    const std::size_t before = r.b.bits.size();
    const std::uint64_t k = count.size();
    r.b.gamma(k);
    std::uint32_t next = 0, top = count.begin()->first;
    for (const auto& [s, c] : count) {
        r.b.gamma(s - next + 1);
        r.b.gamma(c);
        next = s + 1;
        top = c > count[top] ? s : top;
    }
    r.table_bits = r.b.bits.size() - before;
    if (k == 1)
        return r;
    std::uint64_t sum = 0;
    for (const auto& [s, c] : count)
        sum += f[s] = 1 + c * (M - k) / l.m;
    f[top] += M - sum;
    sum = 0;
    for (const auto& [s, fs] : f) {
        start[s] = sum;
        sum += fs;
    }
    for (std::size_t a = 0, e = 0; a < l.m; a = e, ++r.chunks) {
        for (std::uint64_t cost = 0; e < l.m && cost <= (8 * 4096 - 16) << 16; ++e)
            cost += encode::rans::cost(static_cast<std::uint32_t>(f[codes[e]]));
        std::uint64_t x = L;
        std::vector<std::uint8_t> emitted;
        for (std::size_t j = e; j-- > a;) {
            const std::uint64_t fs = f[codes[j]];
            for (; x >= (L / M * 256) * fs; x >>= 8)
                emitted.push_back(static_cast<std::uint8_t>(x));
            x = x / fs * M + x % fs + start[codes[j]];
        }
        r.b.put(x, 31);
        for (auto it = emitted.rbegin(); it != emitted.rend(); ++it)
            r.b.put(*it, 8);
    }
    return r;
}

/// A random layout, its codes narrowed to at most 12 bits half of the time (the rANS path).
sample narrow_layout(std::mt19937_64& rng) {
    sample s = random_layout(rng);
    if (s.l.code_bits > 12 && (rng() & 1)) {
        s.l.code_bits = 1 + static_cast<unsigned>(rng() % 12);
        for (auto& c : s.codes)
            c &= (1u << s.l.code_bits) - 1;
    }
    return s;
}

double entropy_bits(const std::vector<std::uint32_t>& codes) { // m H
    std::map<std::uint32_t, double> count;
    for (const std::uint32_t c : codes)
        ++count[c];
    const double m = static_cast<double>(codes.size());
    double bits = 0;
    for (const auto& [s, c] : count)
        bits += c * std::log2(m / c);
    return bits;
}

} // namespace

TEST_CASE("rans cost(f) bounds a coding step from above, within 2^-14 bits", "[encode][rans]") {
    // One step adds at most log2(M / f) + log2(1 + M / L) to 8 bytes + log2(state) (header);
    // max_bytes counts cost(f) <= 2^16 log2(M / f) + 372.
    for (std::uint32_t f = 1; f <= M; ++f) {
        const double info = 65536 * std::log2(static_cast<double>(M) / f);
        const std::uint32_t c = encode::rans::cost(f);
        CAPTURE(f, info, c);
        REQUIRE(c >= info + 65536 * std::log2(1 + 0x1p-8));
        REQUIRE(c <= info + 372);
        REQUIRE(c < 16u << 16); // the chunk rule's allowance for the last entry
    }
}

TEST_CASE("rans: a small message byte for byte", "[encode][rans]") {
    // Codes 0 0 1 0 (2 bits): table gamma(2) gamma(1) gamma(3) gamma(1) gamma(1) = 010 1 011 1 1;
    // f = 1 + floor(c (M - 2) / 4) = 24575, 8192, remainder 1 to code 0: 3/4 and 1/4 exactly.
    // Backwards from 2^23: 8388608 -> 11182080 -> 44752896 -> 59670528 -> 79560704 = 0x04be0000,
    // no byte emitted; the state follows the table's 9 bits: 0xea, then (x << 1 | 1) LE.
    const code_layout l{4, 4, false, 2, true};
    const std::vector<std::uint32_t> codes = {0, 0, 1, 0};
    const std::vector<std::byte> expected = {std::byte{0xea}, std::byte{0x01}, std::byte{0x00},
                                             std::byte{0x7c}, std::byte{0x09}};
    CHECK(encode_all(enc, l, {}, codes) == expected);
    CHECK(reference_stream(l, {}, codes).b.bytes() == expected);
    CHECK(decode_all(enc, l, expected) == all_entries({l, {}, codes}));
}

TEST_CASE("rans matches the documented stream and round-trips random layouts", "[encode][rans]") {
    std::mt19937_64 rng(1301);
    std::size_t chunked = 0;
    for (int t = 0; t < 800; ++t) {
        const sample s = narrow_layout(rng);
        CAPTURE(t, s.l.n, s.l.m, s.l.code_bits, s.l.sends_indices, s.l.zero_code_is_zero);
        const reference ref = reference_stream(s.l, s.indices, s.codes);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        CHECK(bytes == ref.b.bytes());
        CHECK(bytes.size() <= enc.max_bytes(s.l));
        CHECK(decode_all(enc, s.l, bytes) == all_entries(s));
        CHECK(encode_all(enc, s.l, s.indices, s.codes) == bytes); // deterministic
        chunked += ref.chunks > 1;
    }
    CHECK(chunked >= 3); // messages above 4 KiB of rANS bytes were among them
    // Many chunks: 2^16 uniform 12-bit codes, about 96 KiB.
    sample s;
    s.l = {1u << 16, 1u << 16, false, 12, false};
    for (std::size_t j = 0; j < s.l.m; ++j)
        s.codes.push_back(static_cast<std::uint32_t>(rng() % 4096));
    const reference ref = reference_stream(s.l, {}, s.codes);
    const auto bytes = encode_all(enc, s.l, {}, s.codes);
    CHECK(ref.chunks >= 24);
    CHECK(bytes == ref.b.bytes());
    CHECK(decode_all(enc, s.l, bytes) == all_entries(s));
}

TEST_CASE("rans: m = 0, m = 1, one repeated code, wide codes", "[encode][rans][bits]") {
    for (const bool idx : {false, true}) {
        const code_layout none{10, 0, idx, 6, true};
        CHECK(enc.max_bytes(none) == 0);
        CHECK(encode_all(enc, none, {}, {}).empty());
        CHECK(decode_all(enc, none, {}).empty());
    }
    // m = 1: gamma(1) gamma(code + 1) gamma(1), no coder state.
    const code_layout one{1, 1, false, 12, false};
    const auto b1 = encode_all(enc, one, {}, {4095});
    CHECK(b1.size() == (1 + gamma_bits(4096) + 1 + 7) / 8); // 27 bits
    CHECK(decode_all(enc, one, b1) == all_entries({one, {}, {4095}}));
    // Entropy 0: 10^6 copies of code 5 take gamma(1) gamma(6) gamma(10^6) = 1 + 5 + 39 bits.
    const code_layout many{1000000, 1000000, false, 4, false};
    const std::vector<std::uint32_t> fives(many.m, 5);
    const auto b2 = encode_all(enc, many, {}, fives);
    CHECK(b2.size() == 6);
    const auto got = decode_all(enc, many, b2);
    CHECK(got.size() == many.m);
    CHECK(std::all_of(got.begin(), got.end(), [](const tv::entry& e) { return e.code == 5; }));
    // Wider than 12 bits: exactly bitpack's code fields.
    std::mt19937_64 rng(1302);
    for (unsigned b = 13; b <= 32; ++b) {
        const code_layout l{300, 300, false, b, false};
        std::vector<std::uint32_t> codes(l.m);
        for (auto& c : codes)
            c = static_cast<std::uint32_t>(rng() >> (64 - b));
        CHECK(encode_all(enc, l, {}, codes) == encode_all(encode::bitpack{}, l, {}, codes));
    }
}

TEST_CASE("rans max_bytes bounds adversarial layouts", "[encode][rans][bits]") {
    std::mt19937_64 rng(1303);
    auto check = [&](const code_layout& l, const std::vector<std::uint32_t>& codes) {
        std::vector<std::uint32_t> idx;
        if (l.sends_indices) { // the widest gaps: spread over n
            for (std::size_t j = 0; j < l.m; ++j)
                idx.push_back(static_cast<std::uint32_t>((j + 1) * (l.n / l.m) - 1));
        }
        const auto bytes = encode_all(enc, l, idx, codes);
        CAPTURE(l.n, l.m, l.code_bits, l.sends_indices, bytes.size(), enc.max_bytes(l));
        CHECK(bytes.size() <= enc.max_bytes(l));
        CHECK(decode_all(enc, l, bytes) == all_entries({l, idx, codes}));
        return bytes.size();
    };
    for (const bool idx : {false, true})
        for (const unsigned b : {1u, 2u, 6u, 12u})
            for (const std::size_t m : {1u, 2u, 3u, 5u, 64u, 1000u, 4095u, 4096u, 20000u}) {
                const code_layout l{idx ? m * 997 : m, m, idx, b, false};
                const std::uint32_t q = 1u << b;
                // All distinct (largest codes first, so the table's gaps are widest), cycling.
                std::vector<std::uint32_t> distinct(m);
                for (std::size_t j = 0; j < m; ++j)
                    distinct[j] = q - 1 - static_cast<std::uint32_t>((j * 2654435761u) % q);
                const std::size_t bytes = check(l, distinct);
                if (b == 12 && m == 4096) // the bound is not slack: all 4096 codes, f = 8 each
                    CHECK(enc.max_bytes(l) <= bytes + bytes / 10 + 16);
                // One code nearly always, every other code once: f = 1, the dearest steps.
                std::vector<std::uint32_t> skew(m, 0);
                for (std::size_t j = 0; j < m && j < q; ++j)
                    skew[m - 1 - j] = static_cast<std::uint32_t>(j);
                check(l, skew);
                // Geometric codes.
                std::vector<std::uint32_t> geo(m);
                std::geometric_distribution<std::uint32_t> g(0.3);
                for (auto& c : geo)
                    c = std::min(g(rng), q - 1);
                check(l, geo);
            }
}

TEST_CASE("rans on QSGD levels: within 2% of the empirical entropy", "[encode][rans][bits]") {
    // Bound: bits <= 1.02 m H + T + 31 chunks + 7, with T the table's exact bits (from the
    // histogram), one 31-bit state per chunk and the last byte's padding. The coder's own excess
    // is far below 2%: log2(1 + M/L) = 0.0056 bits per step at worst, and the frequency rounding
    // (f within one slot of c M / m) costs a KL divergence of order k / (M m) per entry.
    for (const std::size_t n : {std::size_t{1} << 16, std::size_t{1} << 20}) {
        const auto x = tv::make<float>(tv::shape::gaussian, n, 1304);
        for (const std::uint32_t s : {1u, 4u, 16u})
            for (const std::size_t bucket : {std::size_t{0}, std::size_t{512}}) {
                const quantize::qsgd q{.levels = s, .bucket = bucket};
                std::vector<float> scales(q.scale_count(n));
                std::vector<std::uint32_t> codes(n);
                q.quantize(std::span<const float>(x), draw_context{seed{7}, 0, 0, 0},
                           std::span<float>(scales), std::span<std::uint32_t>(codes));
                const code_layout l{n, n, false, q.code_bits(), true};
                const double mh = entropy_bits(codes);
                const reference ref = reference_stream(l, {}, codes);
                const auto bytes = encode_all(enc, l, {}, codes);
                const double bits = 8.0 * static_cast<double>(bytes.size());
                const double elias =
                    8.0 *
                    static_cast<double>(encode_all(encode::elias_gamma{}, l, {}, codes).size());
                CAPTURE(n, s, bucket, mh, bits, bits / mh, ref.table_bits, ref.chunks, elias);
                CHECK(bytes == ref.b.bytes());
                CHECK(bits <=
                      1.02 * mh + static_cast<double>(ref.table_bits + 31 * ref.chunks + 7));
                CHECK(bits < elias); // QSGD's own Elias scheme
                if (n == (std::size_t{1} << 20))
                    CHECK(bits <= 1.02 * mh); // at 2^20 entries even with the table
            }
    }
}

TEST_CASE("rans decoder rejects malformed streams", "[encode][rans][decode]") {
    const code_layout plain{40, 40, false, 4, true};
    const code_layout sent{1000, 40, true, 4, true};
    std::vector<std::uint32_t> codes(40), idx(40);
    for (std::size_t j = 0; j < 40; ++j) {
        codes[j] = static_cast<std::uint32_t>((j * j) % 7 == 0 ? 9 : j % 3);
        idx[j] = static_cast<std::uint32_t>(j * 25 + j % 5);
    }
    SECTION("every truncation, every bit flip") {
        for (const code_layout& l : {plain, sent}) {
            const auto& ix = l.sends_indices ? idx : std::vector<std::uint32_t>{};
            const auto bytes = encode_all(enc, l, ix, codes);
            const auto want = all_entries({l, ix, codes});
            REQUIRE(decode_all(enc, l, bytes) == want);
            for (std::size_t keep = 0; keep < bytes.size(); ++keep)
                CHECK_THROWS_AS(decode_all(enc, l, std::span<const std::byte>(bytes).first(keep)),
                                decode_error);
            // A flip either throws or changes what decodes: no stream decodes like another.
            std::size_t caught = 0;
            for (std::size_t bit = 0; bit < 8 * bytes.size(); ++bit) {
                auto bad = bytes;
                bad[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
                std::vector<tv::entry> got;
                try {
                    got = decode_all(enc, l, bad);
                } catch (const decode_error&) {
                    ++caught;
                    continue;
                }
                CHECK(got != want);
            }
            CAPTURE(caught, 8 * bytes.size());
            // The final-state check catches nearly every flip in the table and the coder; a flip
            // in an Elias-coded index gap often leaves another valid ascending set (elias_gamma).
            const std::size_t percent = l.sends_indices ? 60 : 95;
            CHECK(caught * 100 >= percent * 8 * bytes.size());
        }
    }
    SECTION("tables that do not describe m codes") {
        const code_layout l{10, 10, false, 3, false};
        bit_builder too_many; // 9 codes in a 3-bit alphabet
        too_many.gamma(9);
        CHECK_THROWS_WITH(
            decode_all(enc, l, too_many.bytes()),
            Catch::Contains("rans: table of 9 codes; at most min(m, 2^code_bits) = 8"));
        bit_builder beyond; // codes 2 and 2 + 6 = 8 >= 2^3
        beyond.gamma(2);
        beyond.gamma(3);
        beyond.gamma(5);
        beyond.gamma(6);
        CHECK_THROWS_WITH(decode_all(enc, l, beyond.bytes()),
                          Catch::Contains("rans: table code 8 is not below 2^code_bits = 8"));
        bit_builder few; // counts 4 + 5 = 9 != 10
        few.gamma(2);
        few.gamma(1);
        few.gamma(4);
        few.gamma(1);
        few.gamma(5);
        few.put(L, 31);
        CHECK_THROWS_WITH(decode_all(enc, l, few.bytes()),
                          Catch::Contains("rans: table counts sum: got 9, expected 10"));
        bit_builder more; // counts 4 + 7 > 10
        more.gamma(2);
        more.gamma(1);
        more.gamma(4);
        more.gamma(1);
        more.gamma(7);
        CHECK_THROWS_WITH(decode_all(enc, l, more.bytes()),
                          Catch::Contains("rans: table counts sum past m = 10"));
        CHECK_THROWS_WITH(decode_all(enc, l, {}), Catch::Contains("payload: truncated"));
    }
    SECTION("coder states out of range or not back at the start") {
        const code_layout l{4, 4, false, 2, true};
        auto good = reference_stream(l, {}, {0, 0, 1, 0}).b; // the small message above
        auto low = good;
        low.bits.resize(9);
        low.put(L - 1, 31);
        CHECK_THROWS_WITH(decode_all(enc, l, low.bytes()),
                          Catch::Contains("rans: chunk at entry 0 starts in state 8388607"));
        auto off = good;
        off.bits[9] = !off.bits[9]; // state 79560705: decodes 0 0 1 0 but ends in 2^23 + 1
        CHECK_THROWS_WITH(decode_all(enc, l, off.bytes()),
                          Catch::Contains("rans: chunk ending at entry 3 ends in state 8388609"));
        auto trailing = good.bytes();
        trailing.push_back(std::byte{0});
        CHECK_THROWS_WITH(decode_all(enc, l, trailing), Catch::Contains("1 unused trailing bytes"));
    }
    SECTION("random bytes never crash the decoder") {
        std::mt19937_64 rng(1305);
        std::size_t thrown = 0;
        for (int t = 0; t < 3000; ++t) {
            sample s = narrow_layout(rng);
            std::vector<std::byte> junk(rng() % 64);
            for (auto& b : junk)
                b = static_cast<std::byte>(rng());
            try {
                decode_all(enc, s.l, junk);
            } catch (const decode_error&) {
                ++thrown;
            }
        }
        CHECK(thrown > 2000); // most junk is rejected; m = 0 with no bytes is valid
        // Valid streams with a few bytes changed: errors or other valid streams, never a crash.
        std::size_t mutated = 0;
        for (int t = 0; t < 1000; ++t) {
            const sample s = narrow_layout(rng);
            auto bytes = encode_all(enc, s.l, s.indices, s.codes);
            if (bytes.empty())
                continue;
            for (int e = 0; e < 1 + t % 3; ++e)
                bytes[rng() % bytes.size()] ^= static_cast<std::byte>(1 + rng() % 255);
            ++mutated;
            try {
                decode_all(enc, s.l, bytes);
            } catch (const decode_error&) {
                ++thrown;
            }
        }
        CHECK(mutated > 900);
    }
}

TEST_CASE("rans pipelines decode bit for bit like bitpack", "[encode][rans][pipeline]") {
    for (const tv::shape sh : tv::all_shapes)
        for (const std::size_t n : {0u, 1u, 10u, 1000u, 20000u}) {
            const auto x = tv::make<float>(sh, n, 1306 + n);
            const std::span<const float> xs(x);
            for (const std::uint32_t s : {1u, 4u, 16u, 2047u})
                for (const std::size_t bucket : {std::size_t{0}, std::size_t{128}}) {
                    CAPTURE(tv::name(sh), n, s, bucket);
                    const quantize::qsgd q{.levels = s, .bucket = bucket};
                    recipes::qsgd_rans a({}, q, {}, seed{3});
                    recipes::qsgd_packed b({}, q, {}, seed{3});
                    const auto ma = a.compress(xs), mb = b.compress(xs);
                    CHECK(ma.size() <= a.max_message_size(n));
                    std::vector<float> oa(n), ob(n);
                    a.decompress(std::span<const std::byte>(ma), std::span<float>(oa));
                    b.decompress(std::span<const std::byte>(mb), std::span<float>(ob));
                    CHECK(std::equal(oa.begin(), oa.end(), ob.begin(), [](float u, float v) {
                        return std::bit_cast<std::uint32_t>(u) == std::bit_cast<std::uint32_t>(v);
                    }));
                    if (sh == tv::shape::gaussian && n >= 1000)
                        CHECK(ma.size() < mb.size());
                }
            // Indices sent: top-k + QSGD.
            const sparsify::top_k tk{.k = std::max<std::size_t>(1, n / 8)};
            pipeline<sparsify::top_k, quantize::qsgd, encode::rans> a(tk, {}, {}, seed{4});
            pipeline<sparsify::top_k, quantize::qsgd, encode::bitpack> b(tk, {}, {}, seed{4});
            const auto ma = a.compress(xs), mb = b.compress(xs);
            CHECK(ma.size() <= a.max_message_size(n));
            std::vector<float> oa(n, 1.0f), ob(n, 1.0f);
            a.decompress_add(std::span<const std::byte>(ma), std::span<float>(oa), 0.5f);
            b.decompress_add(std::span<const std::byte>(mb), std::span<float>(ob), 0.5f);
            CHECK(std::equal(oa.begin(), oa.end(), ob.begin(), [](float u, float v) {
                return std::bit_cast<std::uint32_t>(u) == std::bit_cast<std::uint32_t>(v);
            }));
        }
}
