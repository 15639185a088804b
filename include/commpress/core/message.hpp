// SPDX-License-Identifier: MIT
// The message header: a fixed 48-byte, little-endian prefix that makes every message
// self-describing and lets the decoder reject bytes that are not meant for it.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <commpress/core/error.hpp>

namespace commpress {

/// Element type of the tensor a message was made from (decoding into either type is allowed).
enum class element_type : std::uint8_t { float32 = 1, float64 = 2 };

template <class T>
inline constexpr element_type element_type_of =
    std::is_same_v<T, double> ? element_type::float64 : element_type::float32;

/// Byte layout (docs/message-format.md):
///  0 magic "CPRS" | 4 version | 5 element type | 6 flags | 7 reserved (0)
///  8 fingerprint u64 | 16 n u64 | 24 payload bytes u64 | 32 worker u32 | 36 step u32
/// 40 payload CRC32C u32 (0 unless flag bit 0) | 44 header CRC32C over bytes 0..43
struct message_header {
    static constexpr std::size_t size = 48;
    static constexpr std::uint8_t version = 1;
    static constexpr std::uint8_t flag_payload_checksum = 1;

    element_type type = element_type::float32;
    std::uint8_t flags = 0;
    std::uint64_t fingerprint = 0;
    std::uint64_t n = 0;
    std::uint64_t payload_bytes = 0;
    std::uint32_t worker = 0;
    std::uint32_t step = 0;
    std::uint32_t payload_crc = 0;
};

/// Options of the message layer, fixed per pipeline.
struct message_options {
    /// CRC32C over the payload: detects corruption in transit. A decoder with this option set
    /// also rejects messages that carry no checksum.
    bool payload_checksum = false;
};

namespace detail {

inline constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ 0x82f6'3b78u : c >> 1; // Castagnoli, reflected
        t[i] = c;
    }
    return t;
}();

} // namespace detail

/// CRC32C (Castagnoli), the checksum of iSCSI, ext4 and SCTP: crc32c("123456789") = 0xe3069283.
inline std::uint32_t crc32c(std::span<const std::byte> bytes) noexcept {
    std::uint32_t c = 0xffff'ffffu;
    for (std::byte b : bytes)
        c = detail::crc32c_table[(c ^ static_cast<std::uint8_t>(b)) & 0xff] ^ (c >> 8);
    return c ^ 0xffff'ffffu;
}

namespace detail {
template <class V>
concept number_like = std::is_arithmetic_v<V> || std::is_enum_v<V>;
} // namespace detail

/// FNV-1a 64 over the canonical description of a configuration: stage names and parameters.
class fingerprint_builder {
  public:
    fingerprint_builder& operator()(std::string_view s) noexcept {
        for (char c : s)
            byte(static_cast<std::uint8_t>(c));
        byte(0); // separator: ("ab","c") != ("a","bc")
        return *this;
    }
    template <detail::number_like V>
    fingerprint_builder& operator()(V v) noexcept {
        using U = typename std::conditional_t<std::is_enum_v<V>, std::underlying_type<V>,
                                              std::type_identity<V>>::type;
        if constexpr (std::is_floating_point_v<U>) {
            const double d = static_cast<double>(static_cast<U>(v));
            return (*this)(std::bit_cast<std::uint64_t>(d));
        } else {
            auto u = static_cast<std::uint64_t>(static_cast<U>(v));
            for (int i = 0; i < 8; ++i)
                byte(static_cast<std::uint8_t>(u >> (8 * i)));
            return *this;
        }
    }
    std::uint64_t value() const noexcept { return h_; }

  private:
    void byte(std::uint8_t b) noexcept { h_ = (h_ ^ b) * 0x100'0000'01b3ull; }
    std::uint64_t h_ = 0xcbf2'9ce4'8422'2325ull;
};

namespace detail {

inline void store_le(std::byte* p, std::uint64_t v, unsigned bytes) noexcept {
    for (unsigned i = 0; i < bytes; ++i)
        p[i] = static_cast<std::byte>(v >> (8 * i));
}

inline std::uint64_t load_le(const std::byte* p, unsigned bytes) noexcept {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i)
        v |= std::uint64_t{static_cast<std::uint8_t>(p[i])} << (8 * i);
    return v;
}

inline constexpr std::array<std::byte, 4> magic = {std::byte{'C'}, std::byte{'P'}, std::byte{'R'},
                                                   std::byte{'S'}};

} // namespace detail

/// Writes h into out[0, 48).
inline void write_header(const message_header& h, std::span<std::byte> out) noexcept {
    std::byte* p = out.data();
    for (int i = 0; i < 4; ++i)
        p[i] = detail::magic[i];
    p[4] = std::byte{message_header::version};
    p[5] = static_cast<std::byte>(h.type);
    p[6] = std::byte{h.flags};
    p[7] = std::byte{0};
    detail::store_le(p + 8, h.fingerprint, 8);
    detail::store_le(p + 16, h.n, 8);
    detail::store_le(p + 24, h.payload_bytes, 8);
    detail::store_le(p + 32, h.worker, 4);
    detail::store_le(p + 36, h.step, 4);
    detail::store_le(p + 40, h.payload_crc, 4);
    detail::store_le(p + 44, crc32c(out.first(44)), 4);
}

/// Parses and checks the header of msg against what this decoder expects: magic, version,
/// header checksum, fields, fingerprint, element count and the exact message length; then the
/// payload checksum when present. Throws decode_error naming the first field that is wrong.
/// With `require_checksum`, a message without a payload checksum is rejected too.
inline message_header read_header(std::span<const std::byte> msg, std::uint64_t fingerprint,
                                  std::size_t n, bool require_checksum = false) {
    using detail::fail_decode;
    if (msg.size() < message_header::size)
        fail_decode("message length (shorter than the 48-byte header)", msg.size(),
                    message_header::size);
    const std::byte* p = msg.data();
    for (int i = 0; i < 4; ++i)
        if (p[i] != detail::magic[i])
            fail_decode("header.magic: not a commpress message (expected \"CPRS\")");
    if (p[4] != std::byte{message_header::version})
        fail_decode("header.version", static_cast<std::uint8_t>(p[4]), message_header::version);
    const auto crc = static_cast<std::uint32_t>(detail::load_le(p + 44, 4));
    if (crc != crc32c(msg.first(44)))
        fail_decode("header.checksum: the header is corrupt (CRC32C mismatch)");
    message_header h;
    const auto type = static_cast<std::uint8_t>(p[5]);
    if (type != 1 && type != 2)
        fail_decode("header.element_type: got " + std::to_string(type) + ", expected 1 or 2");
    h.type = static_cast<element_type>(type);
    h.flags = static_cast<std::uint8_t>(p[6]);
    if ((h.flags & ~message_header::flag_payload_checksum) != 0 || p[7] != std::byte{0})
        fail_decode("header.flags: unknown flag bits set");
    h.fingerprint = detail::load_le(p + 8, 8);
    if (h.fingerprint != fingerprint)
        fail_decode("header.fingerprint: the message was made by a differently configured "
                    "pipeline (other stages, parameters, seed or tensor id)");
    h.n = detail::load_le(p + 16, 8);
    if (h.n != n)
        fail_decode("header.n (element count) does not match the output size", h.n, n);
    h.payload_bytes = detail::load_le(p + 24, 8);
    if (h.payload_bytes != msg.size() - message_header::size)
        fail_decode("header.payload_bytes (message length minus header)", h.payload_bytes,
                    msg.size() - message_header::size);
    h.worker = static_cast<std::uint32_t>(detail::load_le(p + 32, 4));
    h.step = static_cast<std::uint32_t>(detail::load_le(p + 36, 4));
    h.payload_crc = static_cast<std::uint32_t>(detail::load_le(p + 40, 4));
    if (h.flags & message_header::flag_payload_checksum) {
        if (h.payload_crc != crc32c(msg.subspan(message_header::size)))
            fail_decode("payload.checksum: the payload is corrupt (CRC32C mismatch)");
    } else if (require_checksum) {
        fail_decode("header.flags: this decoder requires a payload checksum, the message has none");
    } else if (h.payload_crc != 0) {
        fail_decode("header.payload_checksum: set although the checksum flag is clear");
    }
    return h;
}

} // namespace commpress
