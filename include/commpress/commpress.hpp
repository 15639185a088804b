// SPDX-License-Identifier: MIT
// Umbrella header: every public header of the core library (not comm/ and experiment/).
#pragma once

#include <commpress/core/bitstream.hpp>
#include <commpress/core/concepts.hpp>
#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/encode/bitpack.hpp>
#include <commpress/encode/elias_delta.hpp>
#include <commpress/encode/elias_gamma.hpp>
#include <commpress/encode/raw.hpp>
#include <commpress/induced.hpp>
#include <commpress/kernels/half.hpp>
#include <commpress/kernels/reduce.hpp>
#include <commpress/pipeline.hpp>
#include <commpress/quantize/dithering.hpp>
#include <commpress/quantize/half.hpp>
#include <commpress/quantize/identity.hpp>
#include <commpress/quantize/natural.hpp>
#include <commpress/quantize/qsgd.hpp>
#include <commpress/quantize/scaled.hpp>
#include <commpress/quantize/scaled_sign.hpp>
#include <commpress/quantize/terngrad.hpp>
#include <commpress/quantize/uniform.hpp>
#include <commpress/recipes.hpp>
#include <commpress/sparsify/comp_k.hpp>
#include <commpress/sparsify/identity.hpp>
#include <commpress/sparsify/mix_k.hpp>
#include <commpress/sparsify/perm_k.hpp>
#include <commpress/sparsify/rand_k.hpp>
#include <commpress/sparsify/top_k.hpp>
