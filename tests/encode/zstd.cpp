// SPDX-License-Identifier: MIT
// encode::zstd<E>: the stream (LEB128 frame length, then one Zstandard frame of E's stream) checked
// against libzstd's own decoder, round trips over E = bitpack and elias_gamma, the size bound, the
// gain on redundant top-k payloads, malformed frames and decompression bombs, determinism.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <zstd.h>

#include <commpress/encode/sorted_index.hpp>
#include <commpress/encode/zstd.hpp>
#include <commpress/recipes.hpp>

#include "encode/layouts.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;
using tv::decode_all;
using tv::encode_all;
using tv::sample;

std::vector<std::byte> leb128(std::uint64_t v) {
    std::vector<std::byte> out;
    for (; v >= 0x80; v >>= 7)
        out.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    out.push_back(static_cast<std::byte>(v));
    return out;
}

/// Splits a stream into its frame length and frame.
std::vector<std::byte> frame_of(const std::vector<std::byte>& bytes) {
    std::uint64_t len = 0;
    std::size_t k = 0;
    for (unsigned shift = 0;; shift += 7) {
        const auto b = std::to_integer<std::uint64_t>(bytes.at(k++));
        len |= (b & 0x7f) << shift;
        if (b < 0x80)
            break;
    }
    REQUIRE(bytes.size() == k + len);
    return {bytes.begin() + static_cast<std::ptrdiff_t>(k), bytes.end()};
}

/// libzstd's one-shot API, independent of the encoder's contexts.
std::vector<std::byte> compress(const std::vector<std::byte>& raw, int level = 3) {
    std::vector<std::byte> out(ZSTD_compressBound(raw.size()));
    const std::size_t r = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
    REQUIRE(!ZSTD_isError(r));
    out.resize(r);
    return out;
}
std::vector<std::byte> decompress(const std::vector<std::byte>& frame) {
    const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
    REQUIRE(size < ZSTD_CONTENTSIZE_ERROR);
    std::vector<std::byte> out(size);
    REQUIRE(ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size()) == size);
    return out;
}

std::vector<std::byte> with_length(const std::vector<std::byte>& frame) {
    auto out = leb128(frame.size());
    out.insert(out.end(), frame.begin(), frame.end());
    return out;
}

template <class E>
void round_trips(std::uint64_t seed, int level) {
    std::mt19937_64 rng(seed);
    const E inner;
    const encode::zstd<E> enc{.level = level};
    enc.validate();
    for (int t = 0; t < 300; ++t) {
        const sample s = tv::random_layout(rng);
        CAPTURE(t, s.l.n, s.l.m, s.l.code_bits, s.l.sends_indices, s.l.zero_code_is_zero);
        const auto raw = encode_all(inner, s.l, s.indices, s.codes);
        const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
        CHECK(bytes.size() <= enc.max_bytes(s.l));
        if (raw.empty()) {
            CHECK(bytes == std::vector<std::byte>{std::byte{0}}); // length 0, no frame
        } else {
            const auto frame = frame_of(bytes);
            CHECK(decompress(frame) == raw);      // libzstd reads E's exact stream
            CHECK(frame == compress(raw, level)); // the same frame as the one-shot API
            // Never much larger: a length <= 3 bytes, a frame header <= 14 (magic 4, descriptor
            // 1, window 1, content size <= 8), 3 per block of <= 128 KiB stored raw at worst.
            CHECK(bytes.size() <= 3 + 14 + raw.size() + 3 * (raw.size() / (128 << 10) + 1));
        }
        CHECK(decode_all(enc, s.l, bytes) == decode_all(inner, s.l, raw));
    }
}

} // namespace

TEST_CASE("zstd<E> streams are E's stream in one frame, and round-trip", "[encode][zstd]") {
    SECTION("bitpack") { round_trips<encode::bitpack>(1001, 3); }
    SECTION("elias_gamma") { round_trips<encode::elias_gamma>(1002, 3); }
    SECTION("sorted_index, level 19") { round_trips<encode::sorted_index>(1003, 19); }
    SECTION("negative level") { round_trips<encode::bitpack>(1004, -5); }
    SECTION("nested") { // zstd<zstd<E>>: each level has its own scratch
        std::mt19937_64 rng(1005);
        const encode::zstd<encode::zstd<encode::elias_gamma>> enc;
        for (int t = 0; t < 50; ++t) {
            const sample s = tv::random_layout(rng);
            const auto bytes = encode_all(enc, s.l, s.indices, s.codes);
            CHECK(bytes.size() <= enc.max_bytes(s.l));
            CHECK(decode_all(enc, s.l, bytes) ==
                  decode_all(encode::elias_gamma{}, s.l,
                             encode_all(encode::elias_gamma{}, s.l, s.indices, s.codes)));
        }
    }
}

TEST_CASE("zstd<E> parameters: level range, fingerprint and description", "[encode][zstd]") {
    CHECK_NOTHROW(encode::zstd<encode::bitpack>{.level = ZSTD_maxCLevel()}.validate());
    CHECK_NOTHROW(encode::zstd<encode::bitpack>{.level = ZSTD_minCLevel()}.validate());
    CHECK_THROWS_AS(encode::zstd<encode::bitpack>{.level = ZSTD_maxCLevel() + 1}.validate(),
                    invalid_parameter);
    CHECK_THROWS_WITH(encode::zstd<encode::bitpack>{.level = ZSTD_minCLevel() - 1}.validate(),
                      Catch::Contains("zstd: level must be in"));
    auto fp = [](const auto& e) {
        fingerprint_builder f;
        e.fingerprint(f);
        return f.value();
    };
    const encode::zstd<encode::bitpack> a, b{.level = 3}, c{.level = 4};
    const encode::zstd<encode::elias_gamma> d;
    CHECK(fp(a) == fp(b));
    CHECK(fp(a) != fp(c));
    CHECK(fp(a) != fp(d));
    CHECK(fp(a) != fp(encode::bitpack{}));
    CHECK(a.describe() == "zstd(bitpack, level 3)");
    STATIC_REQUIRE(encoder<encode::zstd<encode::bitpack>>);
}

TEST_CASE("zstd<E> is deterministic: same bytes twice, across objects and threads",
          "[encode][zstd]") {
    std::mt19937_64 rng(1006);
    const sample s = [&] {
        sample r;
        do
            r = tv::random_layout(rng);
        while (r.l.m < 500);
        return r;
    }();
    const encode::zstd<encode::elias_gamma> e1{.level = 7}, e2{.level = 7};
    const auto first = encode_all(e1, s.l, s.indices, s.codes);
    CHECK(encode_all(e1, s.l, s.indices, s.codes) == first);
    CHECK(encode_all(e2, s.l, s.indices, s.codes) == first);
    std::vector<std::byte> other;
    std::thread([&] { other = encode_all(e2, s.l, s.indices, s.codes); }).join();
    CHECK(other == first);
}

TEST_CASE("zstd<E> shrinks redundant top-k payloads", "[encode][zstd][ratio]") {
    // 2^16 values +-1, or +-2 with probability 1/8; top-k with k = n / 8 keeps (nearly) only the
    // +-2, so the 32-bit codes take two values. A random kept set of k = n / 8 costs at least
    // log2 C(n, k) / k ~ 8 H(1/8) = 4.35 bits per entry, plus 1 bit of sign: 5.35 bits.
    const std::size_t n = 1 << 16, k = n / 8;
    std::mt19937_64 rng(1007);
    std::vector<float> x(n);
    for (auto& v : x)
        v = static_cast<float>((rng() & 1 ? 1 : -1) * (rng() % 8 == 0 ? 2 : 1));
    const std::span<const float> xs(x);
    using top_k_zstd = pipeline<sparsify::top_k, quantize::identity, encode::zstd<encode::bitpack>>;
    using top_k_si_zstd =
        pipeline<sparsify::top_k, quantize::identity, encode::zstd<encode::sorted_index>>;
    recipes::top_k plain(sparsify::top_k{.k = k});
    top_k_zstd packed(sparsify::top_k{.k = k});
    top_k_si_zstd sorted(sparsify::top_k{.k = k});
    const auto m0 = plain.compress(xs), m1 = packed.compress(xs), m2 = sorted.compress(xs);
    std::vector<float> o0(n), o1(n), o2(n);
    plain.decompress(std::span<const std::byte>(m0), std::span<float>(o0));
    packed.decompress(std::span<const std::byte>(m1), std::span<float>(o1));
    sorted.decompress(std::span<const std::byte>(m2), std::span<float>(o2));
    CHECK(o1 == o0);
    CHECK(o2 == o0);
    const double bits0 = 8.0 * static_cast<double>(m0.size() - message_header::size) / k;
    const double bits1 = 8.0 * static_cast<double>(m1.size() - message_header::size) / k;
    const double bits2 = 8.0 * static_cast<double>(m2.size() - message_header::size) / k;
    WARN("bits per kept entry: bitpack " << bits0 << ", zstd<bitpack> " << bits1
                                         << ", zstd<sorted_index> " << bits2);
    CHECK(bits0 == 48); // 32 + 16
    CHECK(bits1 < 0.5 * bits0);
    CHECK(bits2 < bits1);
    CHECK(bits2 > 5); // no code beats the entropy, 5.35 bits (by more than luck allows)
    CHECK(m1.size() <= packed.max_message_size(n));
    CHECK(m2.size() <= sorted.max_message_size(n));
}

TEST_CASE("zstd<E> decoder rejects malformed frames", "[encode][zstd][decode]") {
    const encode::zstd<encode::bitpack> enc;
    const code_layout l{1000, 100, true, 16, false}; // bitpack: 100 (10 + 16) bits = 325 bytes
    REQUIRE(encode::bitpack{}.max_bytes(l) == 325);
    std::mt19937_64 rng(1008);
    sample s;
    s.l = l;
    for (std::uint32_t j = 0; j < 100; ++j) {
        s.indices.push_back(j * 10 + static_cast<std::uint32_t>(rng() % 10));
        s.codes.push_back(static_cast<std::uint32_t>(rng() % 4));
    }
    const auto good = encode_all(enc, l, s.indices, s.codes);
    REQUIRE(decode_all(enc, l, good).size() == 100);
    auto decode = [&](const std::vector<std::byte>& bytes) { return decode_all(enc, l, bytes); };

    SECTION("truncated anywhere") {
        for (std::size_t cut = 0; cut < good.size(); ++cut) {
            CAPTURE(cut);
            CHECK_THROWS_AS(decode({good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)}),
                            decode_error);
        }
        CHECK_THROWS_WITH(decode({good.begin(), good.end() - 1}),
                          Catch::Contains("zstd: truncated: frame length"));
    }
    SECTION("garbage in place of the frame") {
        std::vector<std::byte> junk(40);
        for (auto& b : junk)
            b = static_cast<std::byte>(rng());
        CHECK_THROWS_WITH(decode(with_length(junk)),
                          Catch::Contains("zstd: frame: ") &&
                              Catch::Contains("Unknown frame descriptor"));
    }
    SECTION("a decompression bomb: declared content above E's max_bytes") {
        const std::vector<std::byte> zeros(1u << 20);
        const auto bomb = compress(zeros); // a 1 MiB frame of a few dozen bytes
        REQUIRE(bomb.size() < 400);
        CHECK_THROWS_WITH(decode(with_length(bomb)),
                          Catch::Contains("zstd: frame content size 1048576, expected 1 to 325"));
        const std::vector<std::byte> just_over(326);
        CHECK_THROWS_WITH(decode(with_length(compress(just_over))),
                          Catch::Contains("frame content size 326"));
    }
    SECTION("frames without a content size, skippable or empty frames") {
        ZSTD_CCtx* c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
        const auto raw = encode_all(encode::bitpack{}, l, s.indices, s.codes);
        std::vector<std::byte> frame(ZSTD_compressBound(raw.size()));
        ZSTD_outBuffer out{frame.data(), frame.size(), 0};
        ZSTD_inBuffer in{raw.data(), raw.size(), 0};
        REQUIRE(ZSTD_compressStream2(c, &out, &in, ZSTD_e_end) == 0); // streaming: size unknown
        ZSTD_freeCCtx(c);
        frame.resize(out.pos);
        CHECK_THROWS_WITH(decode(with_length(frame)),
                          Catch::Contains("zstd: the frame does not declare its content size"));
        const std::vector<std::byte> skippable = {// magic 0x184D2A50, 4 bytes of user data
                                                  std::byte{0x50}, std::byte{0x2a}, std::byte{0x4d},
                                                  std::byte{0x18}, std::byte{4},    std::byte{0},
                                                  std::byte{0},    std::byte{0},    std::byte{1},
                                                  std::byte{2},    std::byte{3},    std::byte{4}};
        CHECK_THROWS_WITH(decode(with_length(skippable)), Catch::Contains("content size 0"));
        CHECK_THROWS_WITH(decode(with_length(compress({}))), Catch::Contains("content size 0"));
    }
    SECTION("frame lengths that lie") {
        const auto frame = frame_of(good);
        auto both = frame; // a second, small frame after the first, counted in the length
        const auto small = compress({std::byte{1}});
        both.insert(both.end(), small.begin(), small.end());
        CHECK_THROWS_WITH(decode(with_length(both)), Catch::Contains("zstd: the frame takes"));
        auto two = good;
        two.push_back(std::byte{0}); // a byte after the frame, not counted
        CHECK_THROWS_WITH(decode(two), Catch::Contains("1 unused trailing bytes"));
        const auto huge = leb128(std::uint64_t{1} << 40);
        CHECK_THROWS_WITH(decode(huge), Catch::Contains("zstd: frame length 1099511627776 "
                                                        "exceeds the bound"));
        const std::vector<std::byte> long_length(11, std::byte{0x80});
        CHECK_THROWS_WITH(decode(long_length), Catch::Contains("frame length overflows 64 bits"));
        CHECK_THROWS_WITH(decode({std::byte{0x81}, std::byte{0}}), Catch::Contains("not minimal"));
        CHECK_THROWS_WITH(decode({}), Catch::Contains("payload: truncated"));
    }
    SECTION("a valid frame holding a bad E stream") {
        const auto raw = encode_all(encode::bitpack{}, l, s.indices, s.codes); // no padding bits
        REQUIRE(raw.size() == 325);
        auto cut = raw;
        cut.pop_back(); // E's own error, on the decompressed content
        CHECK_THROWS_WITH(decode(with_length(compress(cut))),
                          Catch::Contains("zstd content: truncated"));
        auto longer = raw;
        longer.push_back(std::byte{0});
        CHECK_THROWS_WITH(decode(with_length(compress(longer))),
                          Catch::Contains("content size 326"));
        auto index = raw; // the first 10-bit index field set to 1023 >= n
        index[0] = std::byte{0xff};
        index[1] |= std::byte{0x03};
        CHECK_THROWS_WITH(decode(with_length(compress(index))),
                          Catch::Contains("bitpack: index of entry 0 is 1023"));
        // Trailing bytes within E's bound: elias_gamma's bound is loose, its stream must end.
        const encode::zstd<encode::elias_gamma> eg;
        auto extra = encode_all(encode::elias_gamma{}, l, s.indices, s.codes);
        REQUIRE(extra.size() + 1 <= encode::elias_gamma{}.max_bytes(l));
        CHECK_NOTHROW(decode_all(eg, l, with_length(compress(extra))));
        extra.push_back(std::byte{0});
        CHECK_THROWS_WITH(decode_all(eg, l, with_length(compress(extra))),
                          Catch::Contains("zstd content: 1 unused trailing bytes"));
    }
}
