// SPDX-License-Identifier: MIT
// Validation and printing of the (ratio, k) parameter pair shared by top_k and rand_k.
#pragma once

#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>

#include <commpress/core/error.hpp>

namespace commpress::sparsify::detail {

inline void validate_k(std::string_view name, double ratio, std::size_t k) {
    if (k == 0 && !(ratio > 0.0 && ratio <= 1.0)) {
        std::ostringstream s;
        s << name << ": ratio must be in (0, 1] (or set k > 0), got " << ratio;
        commpress::detail::fail_parameter(s.str());
    }
}

inline std::string describe_k(std::string_view name, double ratio, std::size_t k) {
    std::ostringstream s;
    s << name << '(';
    if (k != 0)
        s << "k=" << k;
    else
        s << "ratio=" << ratio;
    s << ')';
    return s.str();
}

} // namespace commpress::sparsify::detail
