#include "golden_lines.h"

#include <cctype>

namespace ringlm::test {

std::string raw_field(const std::string& line, const std::string& key) {
  const std::string tag = "\"" + key + "\": ";
  const size_t at = line.find(tag);
  if (at == std::string::npos) return {};
  const size_t v = at + tag.size();
  if (line[v] == '"') return line.substr(v + 1, line.find('"', v + 1) - v - 1);
  const size_t end = line[v] == '[' ? line.find(']', v) + 1 : line.find_first_of(",}", v);
  return line.substr(v, end - v);
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::vector<int32_t> parse_ids(const std::string& list) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < list.size();) {
    if (isdigit(static_cast<unsigned char>(list[i]))) {
      size_t used = 0;
      ids.push_back(std::stoi(list.substr(i), &used));
      i += used;
    } else {
      ++i;
    }
  }
  return ids;
}

}  // namespace ringlm::test
