#include "tokenizer/stream_decoder.h"

#include "tokenizer/unicode.h"

namespace ringlm {

StreamDecoder::StreamDecoder(const Tokenizer* tokenizer, bool render_control)
    : tokenizer_(tokenizer), render_control_(render_control) {}

std::string StreamDecoder::push(int32_t id) {
  tokenizer_->decode_append(id, render_control_, &after_special_, &pending_);
  std::string out;
  std::string_view s = pending_;
  while (!s.empty()) {
    const unicode::Utf8Scan sc = unicode::utf8_scan(s);
    if (sc.kind == unicode::Utf8Scan::kIncomplete) break;  // may still complete
    if (sc.kind == unicode::Utf8Scan::kValid) {
      out.append(s.substr(0, sc.len));
    } else {
      unicode::utf8_append(&out, unicode::kReplacementChar);
    }
    s.remove_prefix(sc.len);
  }
  pending_ = std::string(s);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = unicode::utf8_sanitize(pending_);
  reset();
  return out;
}

void StreamDecoder::reset() {
  pending_.clear();
  after_special_ = true;
}

}  // namespace ringlm
