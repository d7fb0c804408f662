#include "args.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iterator>
#include <string>

namespace ringlm::cli {

Result<Args> Args::Parse(int argc, char** argv, int first, const std::set<std::string>& value_flags,
                         const std::set<std::string>& bool_flags) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0) return InvalidArgument("unexpected argument '" + s + "'");
    std::string name = s.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (bool_flags.count(name)) {
      if (inline_value) return InvalidArgument("flag --" + name + " takes no value");
      a.values_.emplace(name, "1");
    } else if (value_flags.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) return InvalidArgument("flag --" + name + " needs a value");
        value = argv[++i];
        if (value.rfind("--", 0) == 0)
          return InvalidArgument("flag --" + name + " needs a value, not the flag '" + value +
                                 "' (a value starting with -- is written --" + name + "=" +
                                 value + ")");
      }
      a.values_.emplace(name, value);
    } else {
      return InvalidArgument("unknown flag --" + name);
    }
  }
  return a;
}

std::string Args::get(const std::string& name, const std::string& def) const {
  auto [b, e] = values_.equal_range(name);
  return b == e ? def : std::prev(e)->second;  // the last one given
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  auto [b, e] = values_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

Result<int64_t> parse_int(const std::string& v, const std::string& what, int64_t lo,
                          int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno == ERANGE || x < lo || x > hi) {
    return InvalidArgument(what + " must be an integer in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "] (got '" + v + "')");
  }
  return int64_t(x);
}

Result<int64_t> Args::get_int(const std::string& name, int64_t def, int64_t lo,
                              int64_t hi) const {
  if (!has(name)) return def;
  return parse_int(get(name), "--" + name, lo, hi);
}

Result<double> Args::get_double(const std::string& name, double def) const {
  if (!has(name)) return def;
  const std::string v = get(name);
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || errno)
    return InvalidArgument("--" + name + ": not a number: '" + v + "'");
  return x;
}

Result<std::vector<double>> Args::get_double_list(const std::string& name,
                                                  const std::string& def) const {
  const std::string v = get(name, def);
  std::vector<double> out;
  size_t start = 0;
  while (start <= v.size()) {
    const size_t comma = std::min(v.find(',', start), v.size());
    const std::string item = v.substr(start, comma - start);
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(item.c_str(), &end);
    if (item.empty() || *end || errno)
      return InvalidArgument("--" + name + ": not a list of numbers: '" + v + "'");
    out.push_back(x);
    start = comma + 1;
  }
  return out;
}

}  // namespace ringlm::cli
