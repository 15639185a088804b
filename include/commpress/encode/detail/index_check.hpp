// SPDX-License-Identifier: MIT
// The check every encoder applies to decoded coordinates: strictly increasing and below n.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <commpress/core/error.hpp>

namespace commpress::encode::detail {

class index_check {
  public:
    index_check(std::string_view encoder, std::size_t n) noexcept : encoder_(encoder), n_(n) {}

    void operator()(std::size_t entry, std::uint64_t index) {
        if (index >= n_ || (entry > 0 && index <= prev_)) [[unlikely]]
            fail(entry, index);
        prev_ = index;
    }

  private:
    [[noreturn, gnu::cold, gnu::noinline]] void fail(std::size_t entry, std::uint64_t index) const {
        commpress::detail::fail_decode(
            std::string(encoder_) + ": index of entry " + std::to_string(entry) + " is " +
            std::to_string(index) + "; indices must be ascending and below n = " +
            std::to_string(n_) + (entry > 0 ? " (previous " + std::to_string(prev_) + ")" : ""));
    }

    std::string_view encoder_;
    std::size_t n_;
    std::uint64_t prev_ = 0;
};

} // namespace commpress::encode::detail
