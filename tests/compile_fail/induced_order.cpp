// SPDX-License-Identifier: MIT
// Must not compile: the induced compressor takes the contractive compressor first.
#include <commpress/commpress.hpp>

int main() {
    commpress::induced<commpress::recipes::rand_k, commpress::recipes::top_k> c;
    (void)c;
}
