// SPDX-License-Identifier: MIT
// Checkpoints of the feedback methods' state: versioned, keyed by configuration, tensor and
// worker, checksummed. Loading one and continuing gives the run that never stopped.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>

namespace commpress::feedback {

/// Which state a checkpoint holds: its identity, checked on load.
struct checkpoint_key {
    std::uint8_t half = 0;         ///< 0 worker, 1 server
    std::uint64_t fingerprint = 0; ///< method, its constants, the compressor's fingerprint, d, n
    std::uint32_t tensor = 0;      ///< the compressor's stream tensor id
    std::uint32_t worker = 0;      ///< the worker's id (0 for a server)
};

namespace detail {
inline constexpr std::uint8_t checkpoint_version = 1;
inline constexpr std::size_t checkpoint_head = 4 + 1 + 1 + 8 + 4 + 4 + 1; // magic .. element size
} // namespace detail

/// The configuration a checkpoint was saved under (method, its constants, the compressor's
/// fingerprint, d; not the worker id): equal for two halves of one configuration.
inline std::uint64_t configuration_of(std::span<const std::byte> checkpoint) {
    if (checkpoint.size() < detail::checkpoint_head || std::memcmp(checkpoint.data(), "CPCK", 4))
        commpress::detail::fail_decode("checkpoint: not a commpress checkpoint");
    return commpress::detail::load_le(checkpoint.data() + 6, 8);
}

namespace detail {

/// Layout, little-endian: "CPCK", version u8, half u8, fingerprint u64, tensor u32, worker u32,
/// element size u8 (4 or 8), then the fields in the order written, then CRC32C of all before.
class checkpoint_writer {
  public:
    template <class T>
    checkpoint_writer(const checkpoint_key& k, std::type_identity<T>) {
        bytes_.resize(checkpoint_head);
        std::byte* p = bytes_.data();
        std::memcpy(p, "CPCK", 4);
        p[4] = std::byte{checkpoint_version};
        p[5] = std::byte{k.half};
        commpress::detail::store_le(p + 6, k.fingerprint, 8);
        commpress::detail::store_le(p + 14, k.tensor, 4);
        commpress::detail::store_le(p + 18, k.worker, 4);
        p[22] = std::byte{sizeof(T)};
    }
    void u64(std::uint64_t v) {
        const std::size_t at = bytes_.size();
        bytes_.resize(at + 8);
        commpress::detail::store_le(bytes_.data() + at, v, 8);
    }
    void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
    template <class T>
    void values(std::span<const T> v) {
        u64(v.size());
        for (const T x : v) {
            using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
            const std::size_t at = bytes_.size();
            bytes_.resize(at + sizeof(T));
            commpress::detail::store_le(bytes_.data() + at, std::bit_cast<U>(x), sizeof(T));
        }
    }
    void bytes(std::span<const std::byte> v) {
        u64(v.size());
        bytes_.insert(bytes_.end(), v.begin(), v.end());
    }
    std::vector<std::byte> finish() {
        const std::uint32_t crc = crc32c(bytes_);
        const std::size_t at = bytes_.size();
        bytes_.resize(at + 4);
        commpress::detail::store_le(bytes_.data() + at, crc, 4);
        return std::move(bytes_);
    }

  private:
    std::vector<std::byte> bytes_;
};

/// Reads what checkpoint_writer wrote, checking every field; throws decode_error naming it.
class checkpoint_reader {
  public:
    template <class T>
    checkpoint_reader(std::span<const std::byte> in, const checkpoint_key& k, std::type_identity<T>)
        : in_(in) {
        using commpress::detail::fail_decode;
        using commpress::detail::load_le;
        if (in.size() < checkpoint_head + 4)
            fail_decode("checkpoint: " + std::to_string(in.size()) + " bytes, shorter than its " +
                        std::to_string(checkpoint_head + 4) + "-byte frame");
        if (std::memcmp(in.data(), "CPCK", 4) != 0)
            fail_decode("checkpoint: not a commpress checkpoint (expected \"CPCK\")");
        if (in[4] != std::byte{checkpoint_version})
            fail_decode("checkpoint.version", std::to_integer<unsigned>(in[4]), checkpoint_version);
        const auto crc = static_cast<std::uint32_t>(load_le(in.data() + in.size() - 4, 4));
        if (crc != crc32c(in.first(in.size() - 4)))
            fail_decode("checkpoint: corrupt (CRC32C mismatch)");
        if (in[5] != std::byte{k.half})
            fail_decode(k.half == 0 ? "checkpoint: a server's state, loaded into a worker"
                                    : "checkpoint: a worker's state, loaded into a server");
        if (load_le(in.data() + 6, 8) != k.fingerprint)
            fail_decode("checkpoint.fingerprint: saved by another method, compressor or size");
        if (load_le(in.data() + 14, 4) != k.tensor)
            fail_decode("checkpoint.tensor", load_le(in.data() + 14, 4), k.tensor);
        if (load_le(in.data() + 18, 4) != k.worker)
            fail_decode("checkpoint.worker", load_le(in.data() + 18, 4), k.worker);
        if (in[22] != std::byte{sizeof(T)})
            fail_decode("checkpoint.element_size", std::to_integer<unsigned>(in[22]), sizeof(T));
        at_ = checkpoint_head;
        end_ = in.size() - 4;
    }
    std::uint64_t u64() {
        need(8, "a field");
        const std::uint64_t v = commpress::detail::load_le(in_.data() + at_, 8);
        at_ += 8;
        return v;
    }
    double f64() { return std::bit_cast<double>(u64()); }
    /// Exactly `count` values into out.
    template <class T>
    void values(std::vector<T>& out, std::size_t count) {
        const std::uint64_t n = u64();
        if (n != count)
            commpress::detail::fail_decode("checkpoint: a state vector of " + std::to_string(n) +
                                           " values, expected " + std::to_string(count));
        need(n * sizeof(T), "a state vector");
        using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
        out.resize(count);
        for (T& x : out) {
            x = std::bit_cast<T>(
                static_cast<U>(commpress::detail::load_le(in_.data() + at_, sizeof(T))));
            at_ += sizeof(T);
        }
    }
    void bytes(std::vector<std::byte>& out) {
        const std::uint64_t n = u64();
        need(n, "a byte string");
        out.assign(in_.begin() + static_cast<std::ptrdiff_t>(at_),
                   in_.begin() + static_cast<std::ptrdiff_t>(at_ + n));
        at_ += n;
    }
    void expect_end() const {
        if (at_ != end_)
            commpress::detail::fail_decode("checkpoint: " + std::to_string(end_ - at_) +
                                           " trailing bytes");
    }

  private:
    void need(std::uint64_t bytes, const char* what) const {
        if (bytes > end_ - at_)
            commpress::detail::fail_decode(std::string("checkpoint: truncated in ") + what);
    }
    std::span<const std::byte> in_;
    std::size_t at_ = 0, end_ = 0;
};

} // namespace detail
} // namespace commpress::feedback
