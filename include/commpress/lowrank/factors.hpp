// SPDX-License-Identifier: MIT
// The wire form of the low-rank operators: a header, then binary32 numbers (factors, and the
// tensors sent as they are), little-endian, in layout order. Their count follows from the
// configuration, which the fingerprint pins, so a message carries no shapes or ranks.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>

namespace commpress::lowrank::detail {

static_assert(std::endian::native == std::endian::little,
              "lowrank messages copy binary32 values as they lie in memory");

inline std::size_t factor_message_size(std::size_t values) noexcept {
    return message_header::size + 4 * values;
}

/// Header (fingerprint, n = the model's element count, worker, step) and `values`.
inline std::size_t write_factors(std::span<const float> values, std::uint64_t fingerprint,
                                 std::size_t n, std::uint32_t worker, std::uint32_t step,
                                 const message_options& opts, std::span<std::byte> out) {
    const std::size_t size = factor_message_size(values.size());
    if (out.size() < size)
        commpress::detail::fail_parameter("lowrank: the output buffer holds " +
                                          std::to_string(out.size()) + " bytes, the message " +
                                          std::to_string(size));
    std::memcpy(out.data() + message_header::size, values.data(), 4 * values.size());
    message_header h;
    h.type = element_type_of<float>;
    h.flags = opts.payload_checksum ? message_header::flag_payload_checksum : 0;
    h.fingerprint = fingerprint;
    h.n = n;
    h.payload_bytes = 4 * values.size();
    h.worker = worker;
    h.step = step;
    const auto payload =
        std::span<const std::byte>(out.data() + message_header::size, 4 * values.size());
    h.payload_crc = opts.payload_checksum ? crc32c(payload) : 0;
    write_header(h, out);
    return size;
}

/// Checks msg (header, exact length, every value finite) and copies its values into `values`,
/// whose size is the count the configuration expects. `what` names the message in errors.
inline message_header read_factors(std::span<const std::byte> msg, std::uint64_t fingerprint,
                                   std::size_t n, const message_options& opts, const char* what,
                                   std::span<float> values) {
    const message_header h = read_header(msg, fingerprint, n, opts.payload_checksum);
    if (h.payload_bytes != 4 * values.size())
        commpress::detail::fail_decode(std::string(what) + ": payload bytes (4 per value)",
                                       h.payload_bytes, 4 * values.size());
    std::memcpy(values.data(), msg.data() + message_header::size, 4 * values.size());
    for (std::size_t k = 0; k < values.size(); ++k)
        if (!std::isfinite(values[k]))
            commpress::detail::fail_decode(std::string(what) + ": value " + std::to_string(k) +
                                           " of the payload is not finite");
    return h;
}

} // namespace commpress::lowrank::detail
