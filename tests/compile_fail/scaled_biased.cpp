// SPDX-License-Identifier: MIT
// Must not compile: scaling by 1/(1 + omega) needs an unbiased quantizer with an omega.
#include <commpress/commpress.hpp>

int main() {
    commpress::quantize::scaled<commpress::quantize::scaled_sign> q;
    (void)q;
}
