// SPDX-License-Identifier: MIT
// Must not compile: DIANA's shifts need an unbiased compressor; top-k is biased.
#include <commpress/feedback.hpp>

int main() {
    commpress::feedback::worker<commpress::feedback::diana, commpress::recipes::top_k> w(
        {.gamma = 0.1}, {}, 10, 2);
    (void)w;
}
