// SPDX-License-Identifier: MIT
// encode::sorted_index: streams rebuilt bit by bit from the documented format, the cheapest index
// code chosen per message (exact sizes), max_bytes on adversarial sets, malformed streams, and
// top-k messages against top-k + bitpack.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/encode/sorted_index.hpp>
#include <commpress/recipes.hpp>

#include "encode/layouts.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;
using tv::all_entries;
using tv::decode_all;
using tv::encode_all;
using tv::sample;

const encode::sorted_index enc;
enum { by_varint = 0, by_gamma = 1, by_bitmap = 2 }; // the documented selector values

unsigned floor_log2(std::uint64_t v) {
    unsigned b = 0;
    while (v >>= 1)
        ++b;
    return b;
}
unsigned ceil_log2(std::uint64_t n) {
    unsigned b = 0;
    while ((std::uint64_t{1} << b) < n)
        ++b;
    return b;
}
std::uint64_t varint_bits(std::uint64_t g) {
    std::uint64_t groups = 1;
    for (; g >= 128; g >>= 7)
        ++groups;
    return 8 * groups;
}
std::uint64_t gamma_bits(std::uint64_t v) { return 2 * floor_log2(v) + 1; }

/// A bit stream built from the documented definitions (independent of bit_writer).
struct bit_builder {
    std::vector<bool> bits;
    void put(std::uint64_t v, unsigned width) {
        for (unsigned j = 0; j < width; ++j)
            bits.push_back((v >> j) & 1u);
    }
    void gamma(std::uint64_t v) {
        for (unsigned j = floor_log2(v); j > 0; --j)
            bits.push_back(false);
        bits.push_back(true);
        put(v, floor_log2(v));
    }
    void group(unsigned payload, bool more) { put(payload | (more ? 0x80u : 0u), 8); }
    void varint(std::uint64_t g) {
        for (; g >= 128; g >>= 7)
            group(static_cast<unsigned>(g & 0x7f), true);
        group(static_cast<unsigned>(g), false);
    }
    std::vector<std::byte> bytes() const {
        std::vector<std::byte> out((bits.size() + 7) / 8, std::byte{0});
        for (std::size_t j = 0; j < bits.size(); ++j)
            if (bits[j])
                out[j / 8] |= std::byte{static_cast<unsigned char>(1u << (j % 8))};
        return out;
    }
};

std::vector<std::uint64_t> gaps(const std::vector<std::uint32_t>& idx) {
    std::vector<std::uint64_t> g;
    for (std::size_t j = 0; j < idx.size(); ++j)
        g.push_back(j == 0 ? idx[0] : std::uint64_t{idx[j]} - idx[j - 1] - 1);
    return g;
}

/// Bits of the index set under each method, from the definitions.
std::array<std::uint64_t, 3> costs(std::size_t n, const std::vector<std::uint32_t>& idx) {
    std::array<std::uint64_t, 3> c{0, 0, n};
    for (const std::uint64_t g : gaps(idx)) {
        c[by_varint] += varint_bits(g);
        c[by_gamma] += gamma_bits(g + 1);
    }
    return c;
}
int cheapest(const std::array<std::uint64_t, 3>& c) {
    return c[0] <= c[1] && c[0] <= c[2] ? by_varint : (c[1] <= c[2] ? by_gamma : by_bitmap);
}

bit_builder reference_stream(const sample& s) {
    bit_builder b;
    const int how = s.l.sends_indices ? cheapest(costs(s.l.n, s.indices)) : -1;
    if (s.l.sends_indices)
        b.put(static_cast<unsigned>(how), 2);
    for (std::size_t j = 0; j < s.l.m; ++j)
        b.put(s.codes[j], s.l.code_bits);
    if (how == by_bitmap) {
        std::vector<bool> map(s.l.n, false);
        for (const std::uint32_t i : s.indices)
            map[i] = true;
        b.bits.insert(b.bits.end(), map.begin(), map.end());
    } else if (how >= 0) {
        for (const std::uint64_t g : gaps(s.indices))
            how == by_gamma ? b.gamma(g + 1) : b.varint(g);
    }
    return b;
}

/// Size the format promises: ceil((2 + min cost + m b) / 8) bytes.
std::size_t expected_size(const sample& s) {
    const auto c = costs(s.l.n, s.indices);
    return (2 + *std::min_element(c.begin(), c.end()) + s.l.m * s.l.code_bits + 7) / 8;
}

std::vector<std::uint32_t> random_subset(std::mt19937_64& rng, std::uint64_t n, std::size_t m) {
    std::set<std::uint32_t> chosen; // Floyd's algorithm: m distinct values below n
    for (std::uint64_t j = n - m; j < n; ++j) {
        const auto t = static_cast<std::uint32_t>(rng() % (j + 1));
        if (!chosen.insert(t).second)
            chosen.insert(static_cast<std::uint32_t>(j));
    }
    return {chosen.begin(), chosen.end()};
}

void random_codes(std::mt19937_64& rng, sample& s) {
    s.codes.clear();
    for (std::size_t j = 0; j < s.l.m; ++j)
        s.codes.push_back(static_cast<std::uint32_t>(rng() >> (64 - s.l.code_bits)));
}

/// Index sets from dense to very sparse: uniform, regular gaps, or clustered runs.
sample sparse_layout(std::mt19937_64& rng) {
    sample s;
    s.l.n = 1 + rng() % (std::uint64_t{1} << (rng() % 25));
    s.l.sends_indices = true;
    s.l.code_bits = 1 + static_cast<unsigned>(rng() % 32);
    s.l.m = std::min<std::size_t>({s.l.n, 2000, s.l.n >> (rng() % 16)});
    switch (rng() % 3) {
    case 0:
        s.indices = random_subset(rng, s.l.n, s.l.m);
        break;
    case 1: { // regular gaps
        const std::uint64_t step = s.l.m ? std::max<std::uint64_t>(1, s.l.n / s.l.m) : 1;
        for (std::uint64_t j = 0; j < s.l.m; ++j)
            s.indices.push_back(static_cast<std::uint32_t>(j * step));
        break;
    }
    default: { // runs of consecutive coordinates at random starts
        std::uint64_t next = 0;
        while (s.indices.size() < s.l.m && next < s.l.n) {
            next += rng() % (1 + (s.l.n - next) / (s.l.m - s.indices.size() + 1));
            for (unsigned r = 1 + rng() % 16; r > 0 && next < s.l.n && s.indices.size() < s.l.m;
                 --r)
                s.indices.push_back(static_cast<std::uint32_t>(next++));
        }
        s.l.m = s.indices.size();
    }
    }
    random_codes(rng, s);
    return s;
}

int selector(const std::vector<std::byte>& bytes) { return std::to_integer<int>(bytes.at(0)) & 3; }

} // namespace

TEST_CASE("sorted_index matches the documented stream, picks the cheapest index code, round-trips",
          "[encode][sorted_index]") {
    std::mt19937_64 rng(909);
    std::array<int, 3> chosen{};
    for (int t = 0; t < 1600; ++t) {
        const sample s = t % 2 ? tv::random_layout(rng) : sparse_layout(rng);
        CAPTURE(t, s.l.n, s.l.m, s.l.code_bits, s.l.sends_indices);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        REQUIRE(bytes == reference_stream(s).bytes());
        CHECK(bytes.size() <= enc.max_bytes(s.l));
        CHECK(decode_all(enc, s.l, bytes) == all_entries(s));
        if (s.l.sends_indices) {
            CHECK(bytes.size() == expected_size(s));
            const int how = cheapest(costs(s.l.n, s.indices));
            CHECK(selector(bytes) == how);
            CHECK(static_cast<int>(encode::sorted_index::choose(s.l, s.indices)) == how);
            CHECK(encode::sorted_index::index_bits(s.l, s.indices) == costs(s.l.n, s.indices));
            ++chosen[static_cast<std::size_t>(how)];
        } else { // no selector: bitpack's stream
            CHECK(bytes == encode_all(encode::bitpack{}, s.l, s.indices, s.codes));
            CHECK(enc.max_bytes(s.l) == encode::bitpack{}.max_bytes(s.l));
        }
    }
    CAPTURE(chosen[0], chosen[1], chosen[2]);
    CHECK(std::min({chosen[0], chosen[1], chosen[2]}) >= 50); // every method was exercised
}

TEST_CASE("sorted_index chooses each method in its regime", "[encode][sorted_index][bits]") {
    std::mt19937_64 rng(910);
    struct row {
        const char* what;
        std::size_t n;
        std::vector<std::uint32_t> idx;
        int want;
    };
    auto regular = [](std::size_t m, std::uint32_t gap) {
        std::vector<std::uint32_t> v;
        for (std::uint32_t j = 0; j < m; ++j)
            v.push_back(j * (gap + 1) + gap);
        return v;
    };
    const std::vector<row> rows = {
        // Half the coordinates at random: geometric gaps cost gamma ~2.3 bits each > 2 = n / m.
        {"dense random", 4096, random_subset(rng, 4096, 2048), by_bitmap},
        // Gap 7: gamma(8) = 7 bits < 8 bits of varint or of bitmap per index.
        {"gaps of 7", 8 * 500, regular(500, 7), by_gamma},
        // Gap 200: gamma(201) = 15 bits < varint's two groups (16) < bitmap (201).
        {"gaps of 200", 201 * 300, regular(300, 200), by_gamma},
        // Gap 1000: varint 16 bits < gamma(1001) = 19 bits.
        {"gaps of 1000", 1001 * 300, regular(300, 1000), by_varint},
        // Very sparse: gaps ~2^17 take 3 varint groups (24 bits) against ~35 bits of gamma.
        {"very sparse random", std::size_t{1} << 24, random_subset(rng, 1u << 24, 100), by_varint},
        {"sparse random", 1u << 20, random_subset(rng, 1u << 20, 10000), by_varint},
        // Everything kept: gamma and bitmap tie at n bits; ties go to the lower selector.
        {"all kept", 1000, regular(1000, 0), by_gamma},
        {"none kept", 1000, {}, by_varint},
    };
    for (const row& r : rows) {
        sample s;
        s.l = {r.n, r.idx.size(), true, 11, false};
        s.indices = r.idx;
        random_codes(rng, s);
        CAPTURE(r.what);
        const auto c = costs(r.n, r.idx);
        CAPTURE(c[0], c[1], c[2]);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        CHECK(selector(bytes) == r.want);
        CHECK(bytes.size() == (2 + c[static_cast<std::size_t>(r.want)] + 11 * s.l.m + 7) / 8);
        CHECK(decode_all(enc, s.l, bytes) == all_entries(s));
    }
}

TEST_CASE("sorted_index max_bytes bounds adversarial index sets", "[encode][sorted_index][bits]") {
    std::mt19937_64 rng(911);
    std::size_t checked = 0;
    auto check = [&](std::size_t n, const std::vector<std::uint32_t>& idx, unsigned b) {
        sample s;
        s.l = {n, idx.size(), true, b, false};
        s.indices = idx;
        random_codes(rng, s);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        CAPTURE(n, idx.size(), b);
        CHECK(bytes.size() == expected_size(s));
        CHECK(bytes.size() <= enc.max_bytes(s.l));
        ++checked;
        return enc.max_bytes(s.l) - bytes.size();
    };
    const std::uint64_t ns[] = {1, 2, 7, 100, 1000, 65536, 1u << 20, 0xffff'ffffu};
    for (const std::uint64_t n : ns)
        for (const std::size_t m : {std::size_t{1}, std::size_t{2}, std::size_t{37},
                                    std::size_t{1000}, std::size_t{4096}}) {
            if (m > n)
                continue;
            std::vector<std::uint32_t> spread, first, last, jump;
            for (std::uint64_t j = 0; j < m; ++j) {
                spread.push_back(static_cast<std::uint32_t>((j + 1) * n / m - 1)); // equal gaps
                first.push_back(static_cast<std::uint32_t>(j));
                last.push_back(static_cast<std::uint32_t>(n - m + j));
                jump.push_back(static_cast<std::uint32_t>(j == 0 ? (n - m) / 2 : n - m + j));
            }
            for (const unsigned b : {1u, 32u}) {
                check(n, spread, b);
                check(n, first, b);
                check(n, last, b);
                check(n, jump, b);
                check(n, random_subset(rng, n, m), b);
            }
        }
    // Equality cases: the bound exceeds the cost by its rounding (1 bit) and, for varint, by
    // m (8 / 7) log2(1 + 1 / g) < 0.1 bit: at most one byte.
    for (const std::uint64_t g :
         {std::uint64_t{1} << 14, std::uint64_t{1} << 21, std::uint64_t{1} << 28}) {
        const std::size_t m = std::min<std::uint64_t>(1000, 0xffff'ffffu / (g + 1));
        std::vector<std::uint32_t> idx; // gaps g = 2^(7k): k + 1 varint groups, log2(v) ~ 7k
        for (std::uint64_t j = 0; j < m; ++j)
            idx.push_back(static_cast<std::uint32_t>(j * (g + 1) + g));
        CAPTURE(g);
        CHECK(check(m * (g + 1), idx, 8) <= 1);
    }
    for (const unsigned k : {1u, 2u, 3u}) { // gamma(v) = 2k + 1 = 2 log2(v) + 1, or the bitmap
        const std::uint64_t v = std::uint64_t{1} << k;
        std::vector<std::uint32_t> idx;
        for (std::uint64_t j = 0; j < 1000; ++j)
            idx.push_back(static_cast<std::uint32_t>(j * v + v - 1));
        CAPTURE(k);
        CHECK(check(1000 * v, idx, 8) <= 1);
    }
    std::vector<std::uint32_t> all(777);
    std::iota(all.begin(), all.end(), 0u);
    CHECK(check(777, all, 5) == 0);   // m = n: exactly 2 + n + 5n bits
    CHECK(checked == 27 * 2 * 5 + 7); // (n, m) pairs x widths x sets, and the equality cases
}

TEST_CASE("sorted_index decoder rejects malformed streams", "[encode][sorted_index][decode]") {
    const code_layout l{100, 3, true, 4, false};
    auto head = [&](unsigned how) { // selector and three codes
        bit_builder b;
        b.put(how, 2);
        for (unsigned c : {1u, 2u, 3u})
            b.put(c, 4);
        return b;
    };
    auto decode = [&](const bit_builder& b, const code_layout& at) {
        return decode_all(enc, at, b.bytes());
    };
    SECTION("selector 3") {
        CHECK_THROWS_WITH(decode(head(3), l),
                          Catch::Contains("sorted_index: index method selector is 3"));
    }
    SECTION("a bitmap with the wrong number of ones") {
        const code_layout small{20, 3, true, 4, false};
        bit_builder more = head(by_bitmap);
        more.put(0b1111, 20); // four ones for m = 3
        CHECK_THROWS_WITH(decode(more, small),
                          Catch::Contains("sorted_index: the bitmap has more than m = 3 ones"));
        bit_builder fewer = head(by_bitmap);
        fewer.put(0b1001'0000'0000'0000'0000, 20);
        CHECK_THROWS_WITH(decode(fewer, small),
                          Catch::Contains("sorted_index: ones in the bitmap: got 2, expected 3"));
        bit_builder right = head(by_bitmap);
        right.put(0b1001'0000'0000'0000'0001, 20);
        CHECK(decode(right, small) == std::vector<tv::entry>{{0, 0, 1}, {1, 16, 2}, {2, 19, 3}});
    }
    SECTION("bad varints") {
        bit_builder too_long = head(by_varint);
        for (int j = 0; j < 5; ++j)
            too_long.group(0, true);
        too_long.group(1, false);
        CHECK_THROWS_WITH(decode(too_long, l),
                          Catch::Contains("sorted_index: varint gap longer than 5 groups"));
        bit_builder overflow = head(by_varint);
        for (int j = 0; j < 4; ++j)
            overflow.group(0x7f, true);
        overflow.group(0x10, false); // 2^32 + 2^28 - 1
        CHECK_THROWS_WITH(decode(overflow, l),
                          Catch::Contains("sorted_index: varint gap overflows 32 bits"));
        bit_builder padded = head(by_varint);
        padded.group(5, true);
        padded.group(0, false);
        CHECK_THROWS_WITH(decode(padded, l), Catch::Contains("ends in a zero group"));
    }
    SECTION("an index at or beyond n") {
        bit_builder v = head(by_varint);
        v.varint(10);
        v.varint(88); // index 99
        v.varint(0);  // index 100 = n
        CHECK_THROWS_WITH(decode(v, l), Catch::Contains("sorted_index: index of entry 2 is 100") &&
                                            Catch::Contains("below n = 100"));
        bit_builder g = head(by_gamma);
        g.gamma(50);
        g.gamma(60); // index 49 + 60 = 109
        CHECK_THROWS_WITH(decode(g, l), Catch::Contains("index of entry 1 is 109"));
        bit_builder top = head(by_varint); // the largest gap, 2^32 - 1, is still checked
        top.varint(0xffff'ffffu);
        CHECK_THROWS_WITH(decode(top, l), Catch::Contains("index of entry 0 is 4294967295"));
    }
    SECTION("truncated streams, with each method") {
        std::mt19937_64 rng(912);
        for (const auto& idx : {std::vector<std::uint32_t>{3, 50, 99}, // varint
                                std::vector<std::uint32_t>{0, 1, 2},   // gamma
                                std::vector<std::uint32_t>{1, 2, 4}}) {
            const code_layout at{idx == std::vector<std::uint32_t>{1, 2, 4} ? 6u : 100u, 3, true, 4,
                                 false};
            sample s{at, idx, {}};
            random_codes(rng, s);
            auto bytes = encode_all(enc, at, s.indices, s.codes);
            CAPTURE(selector(bytes));
            CHECK_NOTHROW(decode_all(enc, at, bytes));
            while (!bytes.empty()) {
                bytes.pop_back();
                CHECK_THROWS_AS(decode_all(enc, at, bytes), decode_error);
            }
        }
        bit_builder b;
        b.put(by_varint, 2);
        b.put(5, 4); // one code of three
        CHECK_THROWS_WITH(decode(b, l),
                          Catch::Contains("sorted_index: truncated: 3 codes need 12 bits, 6 left"));
        CHECK_THROWS_WITH(decode_all(enc, l, {}), Catch::Contains("payload: truncated"));
    }
}

namespace {

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

} // namespace

TEST_CASE("top-k with sorted_index: same output as top-k + bitpack, exact and smaller messages",
          "[encode][sorted_index][pipeline]") {
    using sorted_top_k = pipeline<sparsify::top_k, quantize::identity, encode::sorted_index>;
    for (const tv::shape sh : tv::all_shapes)
        for (const std::size_t n : {1u, 1000u, 100000u})
            for (const double ratio : {0.001, 0.01, 0.1, 0.5}) {
                CAPTURE(tv::name(sh), n, ratio);
                const auto x = tv::make<float>(sh, n, 913 + n);
                const std::span<const float> xs(x);
                sorted_top_k a(sparsify::top_k{.ratio = ratio});
                recipes::top_k b(sparsify::top_k{.ratio = ratio});
                const auto ma = a.compress(xs), mb = b.compress(xs);
                std::vector<float> oa(n), ob(n);
                a.decompress(std::span<const std::byte>(ma), std::span<float>(oa));
                b.decompress(std::span<const std::byte>(mb), std::span<float>(ob));
                CHECK(std::memcmp(oa.data(), ob.data(), n * sizeof(float)) == 0);
                const std::size_t k = a.sparsifier().kept(n);
                sample s;
                s.l = {n, k, true, 32, false};
                s.indices = top_indices(x, k);
                CHECK(ma.size() == message_header::size + expected_size(s));
                CHECK(mb.size() == message_header::size + (k * (32 + ceil_log2(n)) + 7) / 8);
                CHECK(ma.size() <= a.max_message_size(n));
                if (n == 100000) // gaps of ~1/ratio: <= 16 bits against bitpack's 17
                    CHECK(ma.size() < mb.size());
            }
}
