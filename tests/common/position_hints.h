// Checks the host copies of positions an attention call carries
// (AttentionParams::q_pos_host / k_pos_host): counts calls without them and,
// where the positions themselves are host-readable, calls whose copies
// differ from them. Header-only.
#pragma once

#include <algorithm>

#include "attention_params.h"

namespace ringlm::test {

struct PositionHintCheck {
  int unhinted = 0;  // calls without host copies
  int wrong = 0;     // calls whose host copies differ from the positions

  // `host_readable`: p.q_pos / p.k_pos are host memory and may be compared.
  void check(const kernels::AttentionParams& p, bool host_readable) {
    if (!p.q_pos_host || !p.k_pos_host) {
      ++unhinted;
    } else if (host_readable && (!std::equal(p.q_pos, p.q_pos + p.tq, p.q_pos_host) ||
                                 !std::equal(p.k_pos, p.k_pos + p.tk, p.k_pos_host))) {
      ++wrong;
    }
  }
};

}  // namespace ringlm::test
