#include "args.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace ringlm::cli {

Result<Args> Args::Parse(int argc, char** argv, int first, const std::set<std::string>& value_flags,
                         const std::set<std::string>& bool_flags) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0) {
      a.positional_.push_back(s);
      continue;
    }
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
      }
      a.values_.emplace(name, value);
    } else {
      return InvalidArgument("unknown flag --" + name);
    }
  }
  return a;
}

std::string Args::get(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  auto [b, e] = values_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

Result<int64_t> Args::get_int(const std::string& name, int64_t def) const {
  if (!has(name)) return def;
  const std::string v = get(name);
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno)
    return InvalidArgument("--" + name + ": not an integer: '" + v + "'");
  return int64_t(x);
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
