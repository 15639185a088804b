// SPDX-License-Identifier: MIT
#include <cstddef>
#include <cstring>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/message.hpp>

using namespace commpress;

namespace {
std::vector<std::byte> bytes(std::string_view s) {
    std::vector<std::byte> b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    return b;
}

std::vector<std::byte> message(const message_header& h, std::size_t payload) {
    std::vector<std::byte> m(message_header::size + payload, std::byte{0x5a});
    write_header(h, m);
    return m;
}
} // namespace

TEST_CASE("crc32c matches the Castagnoli check value", "[core][message]") {
    CHECK(crc32c(bytes("123456789")) == 0xe306'9283u);
    CHECK(crc32c({}) == 0u);
}

TEST_CASE("fingerprint_builder separates names, values and types", "[core][message]") {
    auto fp = [](auto... parts) {
        fingerprint_builder f;
        (f(parts), ...);
        return f.value();
    };
    CHECK(fp(std::string_view("ab"), std::string_view("c")) !=
          fp(std::string_view("a"), std::string_view("bc")));
    CHECK(fp(0.01) != fp(0.02));
    CHECK(fp(std::uint32_t{16}) != fp(std::uint32_t{4}));
    CHECK(fp(std::string_view("qsgd"), 16u) == fp(std::string_view("qsgd"), 16u));
}

TEST_CASE("the header round trips and is 48 bytes, little-endian", "[core][message]") {
    message_header h;
    h.type = element_type::float64;
    h.fingerprint = 0x1122'3344'5566'7788ull;
    h.n = 1000;
    h.payload_bytes = 7;
    h.worker = 3;
    h.step = 9;
    const auto m = message(h, 7);
    CHECK(m[0] == std::byte{'C'});
    CHECK(m[8] == std::byte{0x88}); // fingerprint, least significant byte first
    const message_header r = read_header(m, h.fingerprint, 1000);
    CHECK(r.type == element_type::float64);
    CHECK(r.n == 1000);
    CHECK(r.worker == 3);
    CHECK(r.step == 9);
}

TEST_CASE("read_header names the field that is wrong", "[core][message]") {
    message_header h;
    h.fingerprint = 42;
    h.n = 10;
    h.payload_bytes = 3;
    auto m = message(h, 3);
    auto fails_with = [&](std::vector<std::byte> msg, std::uint64_t fp, std::size_t n,
                          const char* what) {
        REQUIRE_THROWS_WITH(read_header(msg, fp, n), Catch::Contains(what));
    };
    fails_with({m.begin(), m.begin() + 47}, 42, 10, "shorter than the 48-byte header");
    fails_with(m, 43, 10, "header.fingerprint");
    fails_with(m, 42, 11, "header.n");
    fails_with({m.begin(), m.end() - 1}, 42, 10, "header.payload_bytes");
    auto bad_magic = m;
    bad_magic[1] = std::byte{'X'};
    fails_with(bad_magic, 42, 10, "header.magic");
    auto bad_version = m;
    bad_version[4] = std::byte{2};
    fails_with(bad_version, 42, 10, "header.version");
    for (std::size_t i = 5; i < 44; ++i) { // any other header byte: the checksum catches it
        auto flipped = m;
        flipped[i] ^= std::byte{0x10};
        fails_with(flipped, 42, 10, "header.checksum");
    }
}

TEST_CASE("the payload checksum catches payload corruption", "[core][message]") {
    message_header h;
    h.fingerprint = 1;
    h.n = 4;
    h.payload_bytes = 5;
    h.flags = message_header::flag_payload_checksum;
    std::vector<std::byte> m(message_header::size + 5, std::byte{1});
    h.payload_crc = crc32c(std::span<const std::byte>(m).subspan(message_header::size));
    write_header(h, m);
    CHECK_NOTHROW(read_header(m, 1, 4));
    m.back() ^= std::byte{4};
    REQUIRE_THROWS_WITH(read_header(m, 1, 4), Catch::Contains("payload.checksum"));
}
