// SPDX-License-Identifier: MIT
// Error feedback and shift methods (OPERATORS.md B): feedback::worker<M, C> and server<M, C>
// for a method M (dcgd, ef14, ef21, ef21_bc, diana, ef_bv, marina) and a compressor C.
#pragma once

#include <type_traits>

#include <commpress/feedback/ef14.hpp>
#include <commpress/feedback/ef21_bc.hpp>
#include <commpress/feedback/marina.hpp>
#include <commpress/feedback/shift.hpp>
#include <commpress/feedback/step_size.hpp>
#include <commpress/lowrank/power_sgd.hpp>

namespace commpress::feedback {

namespace detail {
template <class M, class C, class T>
struct halves {
    static_assert(is_shift_method<M>, "feedback: M must be one of feedback::dcgd, ef14, ef21, "
                                      "ef21_bc, diana, ef_bv, marina");
    using worker = shift_worker<M, C, T>;
    using server = shift_server<M, C, T>;
};
template <class C, class T>
struct halves<ef14, C, T> {
    using worker = ef14_worker<C, T>;
    using server = ef14_server<C, T>;
};
template <class CM, class C, class T>
struct halves<ef21_bc<CM>, C, T> {
    using worker = ef21_bc_worker<CM, C, T>;
    using server = ef21_bc_server<CM, C, T>;
};
template <class T>
struct halves<ef14, lowrank::power_sgd, T> { // PowerSGD's two rounds, its authors' memory
    static_assert(std::is_same_v<T, float>, "lowrank::power_sgd runs on binary32");
    using worker = lowrank::power_sgd_worker;
    using server = lowrank::power_sgd_server;
};
template <class C, class T>
struct halves<marina, C, T> {
    using worker = marina_worker<C, T>;
    using server = marina_server<C, T>;
};
} // namespace detail

/// Worker i's half of method M: worker(M, C, d, n); step(grad, out) -> message bytes.
template <class M, class C, class T = float>
using worker = typename detail::halves<M, C, T>::worker;

/// The server's half: server(M, C, d, n); receive(message) for each worker, then update(x).
template <class M, class C, class T = float>
using server = typename detail::halves<M, C, T>::server;

} // namespace commpress::feedback
