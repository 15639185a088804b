// SPDX-License-Identifier: MIT
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/bitstream.hpp>

using namespace commpress;

TEST_CASE("bit fields round trip at every width, LSB first", "[core][bitstream]") {
    std::mt19937 rng(1);
    std::vector<std::pair<std::uint32_t, unsigned>> fields;
    std::size_t bits = 0;
    for (int i = 0; i < 2000; ++i) {
        const unsigned w = 1 + rng() % 32;
        const std::uint32_t v = w == 32 ? rng() : rng() & ((1u << w) - 1);
        fields.emplace_back(v, w);
        bits += w;
    }
    std::vector<std::byte> buf((bits + 7) / 8);
    bit_writer w(buf);
    for (auto [v, width] : fields)
        w.put(v, width);
    REQUIRE(w.finish() == buf.size());
    bit_reader r(buf, "test");
    for (auto [v, width] : fields)
        REQUIRE(r.get(width) == v);
    r.expect_end();
}

TEST_CASE("the first bit is bit 0 of byte 0", "[core][bitstream]") {
    std::vector<std::byte> buf(2);
    bit_writer w(buf);
    w.put(1, 1);
    w.put(0b101, 3);
    w.put(0xff, 8);
    CHECK(w.finish() == 2);
    CHECK(buf[0] == std::byte{0b1111'1011});
    CHECK(buf[1] == std::byte{0b0000'1111});
}

TEST_CASE("Elias gamma codes: lengths 2 floor(log2 v) + 1 and round trip", "[core][bitstream]") {
    const std::vector<std::uint64_t> values = {
        1, 2, 3, 4, 7, 8, 1000, 0xffff'ffffull, 0x1'0000'0000ull, 0x1'ffff'ffffull};
    std::size_t bits = 0;
    for (auto v : values)
        bits += 2 * (std::bit_width(v) - 1) + 1;
    std::vector<std::byte> buf((bits + 7) / 8);
    bit_writer w(buf);
    for (auto v : values)
        w.gamma(v);
    REQUIRE(w.finish() == buf.size());
    bit_reader r(buf, "test");
    for (auto v : values)
        CHECK(r.gamma() == v);
    r.expect_end();
}

TEST_CASE("gamma(1) is the single bit 1", "[core][bitstream]") {
    std::vector<std::byte> buf(1);
    bit_writer w(buf);
    w.gamma(1);
    w.gamma(5); // 0, 0, 1, then the low bits of 5 = 0b01, least significant first: 1, 0
    CHECK(w.finish() == 1);
    CHECK(buf[0] == std::byte{0b0001'1001});
}

TEST_CASE("bit_reader rejects what bit_writer never wrote", "[core][bitstream]") {
    const std::vector<std::byte> one{std::byte{0xff}};
    SECTION("reading past the end") {
        bit_reader r(one, "section");
        r.get(5);
        REQUIRE_THROWS_WITH(r.get(4), Catch::Contains("section: truncated"));
    }
    SECTION("a gamma code with too many leading zeros") {
        const std::vector<std::byte> zeros(10, std::byte{0});
        bit_reader r(zeros, "section");
        REQUIRE_THROWS_AS(r.gamma(), decode_error);
    }
    SECTION("a gamma code cut short") {
        const std::vector<std::byte> z{std::byte{0}};
        bit_reader r(z, "section");
        REQUIRE_THROWS_WITH(r.gamma(), Catch::Contains("truncated"));
    }
    SECTION("nonzero padding") {
        bit_reader r(one, "section");
        r.get(3);
        REQUIRE_THROWS_WITH(r.expect_end(), Catch::Contains("nonzero padding"));
    }
    SECTION("trailing bytes") {
        const std::vector<std::byte> two(2, std::byte{0});
        bit_reader r(two, "section");
        r.get(1);
        REQUIRE_THROWS_WITH(r.expect_end(), Catch::Contains("1 unused trailing bytes"));
    }
}
