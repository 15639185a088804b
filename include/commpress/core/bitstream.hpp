// SPDX-License-Identifier: MIT
// Little-endian, LSB-first bit streams: bit j of a stream is bit (j % 8) of byte j / 8.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include <commpress/core/error.hpp>

namespace commpress {

/// Writes bit fields into a caller buffer that the caller sized with the encoder's bound.
/// Unchecked by design (the bound is computed before writing); asserts in debug builds.
class bit_writer {
  public:
    explicit bit_writer(std::span<std::byte> out) noexcept : out_(out) {}

    /// Appends the low `bits` bits of v (bits <= 32), least significant first.
    [[gnu::always_inline]] void put(std::uint32_t v, unsigned bits) noexcept {
        assert(bits <= 32 && (bits == 32 || (v >> bits) == 0));
        acc_ |= std::uint64_t{v} << fill_;
        fill_ += bits;
        if (fill_ >= 32) {
            store(static_cast<std::uint32_t>(acc_), 4);
            acc_ >>= 32;
            fill_ -= 32;
        }
    }

    /// Appends `bits` zero bits (any count).
    void zeros(unsigned bits) noexcept {
        for (; bits > 32; bits -= 32)
            put(0, 32);
        put(0, bits);
    }

    /// Elias gamma code of v >= 1 (v < 2^33): N = floor(log2 v) zero bits, a one, then the N low
    /// bits of v, least significant first. 2N + 1 bits.
    void gamma(std::uint64_t v) noexcept {
        assert(v >= 1 && v < (std::uint64_t{1} << 33));
        const unsigned n = static_cast<unsigned>(std::bit_width(v)) - 1;
        if (n < 16) { // the whole code, 2n + 1 <= 31 bits, in one put: low bits of v above a 1
            const std::uint64_t low = v & ((std::uint64_t{1} << n) - 1);
            put(static_cast<std::uint32_t>((low << (n + 1)) | (std::uint64_t{1} << n)), 2 * n + 1);
            return;
        }
        zeros(n);
        put(1, 1);
        put(static_cast<std::uint32_t>(v & ((std::uint64_t{1} << n) - 1)), n);
    }

    /// Whether the next bit starts a byte: aligned_bytes may be used.
    bool byte_aligned() const noexcept { return fill_ % 8 == 0; }

    /// Writes the next `bits` bits in bulk: fill(bytes) gets the ceil(bits / 8) bytes that hold
    /// them, to write in place; unused bits of the last byte must be zero. Needs byte_aligned().
    template <class Fill>
    void aligned_bytes(std::size_t bits, Fill fill) noexcept {
        assert(byte_aligned());
        store(static_cast<std::uint32_t>(acc_), fill_ / 8);
        const std::size_t bytes = (bits + 7) / 8;
        assert(pos_ + bytes <= out_.size());
        fill(out_.subspan(pos_, bytes));
        pos_ += bits / 8;
        acc_ = bits % 8 ? std::to_integer<std::uint32_t>(out_[pos_]) : 0; // a partial last byte
        fill_ = bits % 8;
    }

    /// Flushes the last partial byte (zero padded) and returns the bytes written.
    std::size_t finish() noexcept {
        store(static_cast<std::uint32_t>(acc_), (fill_ + 7) / 8);
        acc_ = 0;
        fill_ = 0;
        return pos_;
    }

  private:
    void store(std::uint32_t word, unsigned bytes) noexcept {
        assert(pos_ + bytes <= out_.size());
        for (unsigned i = 0; i < bytes; ++i)
            out_[pos_ + i] = static_cast<std::byte>(word >> (8 * i));
        pos_ += bytes;
    }

    std::span<std::byte> out_;
    std::size_t pos_ = 0;
    std::uint64_t acc_ = 0;
    unsigned fill_ = 0;
};

/// Reads what bit_writer wrote. Every read is bounds-checked: running past the end raises
/// decode_error naming `what` (the section being read).
class bit_reader {
  public:
    bit_reader(std::span<const std::byte> in, const char* what) noexcept
        : in_(in), bits_(in.size() * 8), what_(what) {}

    std::uint64_t remaining() const noexcept { return bits_ - pos_; }

    /// Reads a field of `bits` bits (bits <= 32).
    std::uint32_t get(unsigned bits) { return static_cast<std::uint32_t>(get_wide(bits)); }

    /// Reads a field of `bits` bits (bits <= 57: one load), e.g. two adjacent fields at once.
    [[gnu::always_inline]] std::uint64_t get_wide(unsigned bits) {
        if (bits > remaining())
            truncated(bits);
        const std::uint64_t v = peek() & ((std::uint64_t{1} << bits) - 1);
        pos_ += bits;
        return v;
    }

    /// Whether the next bit starts a byte: aligned_bytes may be used.
    bool byte_aligned() const noexcept { return pos_ % 8 == 0; }

    /// The next `bits` bits as the ceil(bits / 8) bytes that hold them, for a bulk kernel; moves
    /// past them. Needs byte_aligned(); raises decode_error if fewer bits remain.
    std::span<const std::byte> aligned_bytes(std::uint64_t bits) {
        assert(byte_aligned());
        if (bits > remaining())
            truncated(bits);
        const auto start = static_cast<std::size_t>(pos_ / 8);
        pos_ += bits;
        return in_.subspan(start, static_cast<std::size_t>((bits + 7) / 8));
    }

    /// Moves past `bits` bits; raises decode_error if fewer remain.
    void skip(std::uint64_t bits) {
        if (bits > remaining())
            truncated(bits);
        pos_ += bits;
    }

    /// Reads an Elias gamma code (see bit_writer::gamma); rejects codes above 2^33 - 1.
    std::uint64_t gamma() {
        { // the common case: the whole code within one peek
            const std::uint64_t w = peek();
            const auto z = static_cast<unsigned>(std::countr_zero(w));
            if (2 * z + 1 <= std::min<std::uint64_t>(remaining(), 57)) {
                pos_ += 2 * z + 1;
                return (std::uint64_t{1} << z) | ((w >> (z + 1)) & ((std::uint64_t{1} << z) - 1));
            }
        }
        unsigned n = 0;
        for (;;) { // count the leading zeros, up to 64 bits at a time
            const std::uint64_t w = peek();
            const std::uint64_t avail = std::min<std::uint64_t>(remaining(), 57);
            const unsigned z = static_cast<unsigned>(std::countr_zero(w));
            if (z < avail) {
                n += z;
                pos_ += z + 1;
                break;
            }
            if (avail == 0)
                truncated(1);
            n += static_cast<unsigned>(avail);
            pos_ += avail;
            if (n > 32)
                break;
        }
        if (n > 32)
            detail::fail_decode(std::string(what_) + ": Elias gamma code longer than 65 bits");
        std::uint64_t v = std::uint64_t{1} << n;
        if (n > 0)
            v |= (n > 32) ? 0 : std::uint64_t{get(n)};
        return v;
    }

    /// The stream must end here: only zero padding of the last byte may remain.
    void expect_end() const {
        if (remaining() >= 8)
            detail::fail_decode(std::string(what_) + ": " + std::to_string(remaining() / 8) +
                                " unused trailing bytes");
        if (remaining() > 0 && peek() != 0)
            detail::fail_decode(std::string(what_) + ": nonzero padding bits");
    }

  private:
    /// Up to 57 valid bits starting at pos_ (bytes beyond the end read as zero).
    [[gnu::always_inline]] std::uint64_t peek() const noexcept {
        const std::size_t byte = static_cast<std::size_t>(pos_ / 8);
        if (std::endian::native == std::endian::little && byte + 8 <= in_.size()) {
            // Fast path, away from the end: one 8-byte load. The 64 - pos_ % 8 bits left after the
            // shift all lie inside the stream, and the shift filled the rest with zeros.
            std::uint64_t w;
            std::memcpy(&w, in_.data() + byte, 8);
            return w >> (pos_ % 8);
        }
        std::uint64_t w = 0;
        if (byte < in_.size()) {
            const std::size_t take = std::min<std::size_t>(8, in_.size() - byte);
            unsigned char buf[8] = {};
            std::memcpy(buf, in_.data() + byte, take);
            for (std::size_t i = 0; i < 8; ++i)
                w |= std::uint64_t{buf[i]} << (8 * i);
        }
        w >>= pos_ % 8;
        const std::uint64_t left = remaining();
        return left >= 64 ? w : (w & ((std::uint64_t{1} << left) - 1));
    }

    [[noreturn, gnu::cold]] void truncated(std::uint64_t wanted) const {
        detail::fail_decode(std::string(what_) + ": truncated (needs " + std::to_string(wanted) +
                            " more bits, " + std::to_string(remaining()) + " left)");
    }

    std::span<const std::byte> in_;
    std::uint64_t bits_;
    std::uint64_t pos_ = 0;
    const char* what_;
};

} // namespace commpress
