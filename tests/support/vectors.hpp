// SPDX-License-Identifier: MIT
// Test vectors with fixed seeds: the adversarial shapes OPERATORS.md B.8.6 asks every operator
// to be checked on.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace commpress::testing {

enum class shape { flat, one_hot, gaussian, heavy_tailed, zero, subnormal };

inline const char* name(shape s) {
    switch (s) {
    case shape::flat:
        return "flat";
    case shape::one_hot:
        return "one-hot";
    case shape::gaussian:
        return "gaussian";
    case shape::heavy_tailed:
        return "heavy-tailed";
    case shape::zero:
        return "zero";
    case shape::subnormal:
        return "subnormal";
    }
    return "?";
}

/// n values of the given shape, reproducible from `seed`:
/// flat = +-1 with random signs; one-hot = 3 at a random index; gaussian = N(0, 1);
/// heavy-tailed = Student t with 1.5 degrees of freedom (infinite variance in the limit);
/// subnormal = gaussian scaled into binary32's subnormal range (|x| < 2^-126).
template <class T>
std::vector<T> make(shape s, std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<T> x(n, T{0});
    std::normal_distribution<double> normal;
    switch (s) {
    case shape::flat:
        for (auto& v : x)
            v = (rng() & 1) ? T{1} : T{-1};
        break;
    case shape::one_hot:
        if (n > 0)
            x[rng() % n] = T{3};
        break;
    case shape::gaussian:
        for (auto& v : x)
            v = static_cast<T>(normal(rng));
        break;
    case shape::heavy_tailed: {
        std::student_t_distribution<double> t(1.5);
        for (auto& v : x)
            v = static_cast<T>(t(rng));
        break;
    }
    case shape::zero:
        break;
    case shape::subnormal:
        for (auto& v : x)
            v = static_cast<T>(normal(rng) * 0x1p-132); // binary32 subnormals: |x| < 2^-126
        break;
    }
    return x;
}

inline constexpr shape all_shapes[] = {shape::flat,         shape::one_hot, shape::gaussian,
                                       shape::heavy_tailed, shape::zero,    shape::subnormal};

template <class T>
double norm2(const std::vector<T>& x) {
    double s = 0;
    for (T v : x)
        s += static_cast<double>(v) * static_cast<double>(v);
    return s;
}

} // namespace commpress::testing
