// SPDX-License-Identifier: MIT
// The one place that names an instruction set: what the kernels are compiled for.
#pragma once

#include <xsimd/config/xsimd_arch.hpp>

namespace commpress::kernels {

/// The best instruction set the user's -m flags enable (xsimd::default_arch), chosen at compile
/// time. Kernels take it as their first argument, so that each instruction set's instantiation
/// is a distinct symbol: translation units built with different flags never share a kernel.
using arch = xsimd::default_arch;

} // namespace commpress::kernels
