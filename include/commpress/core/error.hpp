// SPDX-License-Identifier: MIT
// commpress error types and the cold throw helpers every boundary check funnels through.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace commpress {

/// Base of every exception commpress throws.
struct error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A policy parameter or an argument size is invalid (thrown before any work is done).
struct invalid_parameter : error {
    using error::error;
};

/// Bytes that are not a valid message for this decoder (thrown before any output is written).
struct decode_error : error {
    using error::error;
};

namespace detail {

[[noreturn, gnu::cold]] inline void fail_parameter(std::string_view what) {
    throw invalid_parameter(std::string(what));
}

[[noreturn, gnu::cold]] inline void fail_decode(std::string_view what) {
    throw decode_error(std::string(what));
}

/// "field: got X, expected Y" — the shape of most decode errors.
[[noreturn, gnu::cold]] inline void fail_decode(std::string_view field, unsigned long long got,
                                                unsigned long long expected) {
    throw decode_error(std::string(field) + ": got " + std::to_string(got) + ", expected " +
                       std::to_string(expected));
}

} // namespace detail
} // namespace commpress
