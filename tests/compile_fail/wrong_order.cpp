// SPDX-License-Identifier: MIT
// Must not compile: the stages are given in the wrong order.
#include <commpress/commpress.hpp>

int main() {
    commpress::pipeline<commpress::quantize::qsgd, commpress::sparsify::top_k,
                        commpress::encode::raw>
        p;
    (void)p;
}
