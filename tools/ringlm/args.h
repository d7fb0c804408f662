// Minimal command-line flag parsing for the ringlm tool: --name value,
// --name=value and boolean --name. Unknown flags, words that are no flag's
// value, and a separate value that looks like a flag ("--prompt --json":
// write --prompt=--json) are errors. A repeated flag's last value wins
// (all() returns every value, for flags such as --stop).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace ringlm::cli {

class Args {
 public:
  // `value_flags` take a value; `bool_flags` do not.
  static Result<Args> Parse(int argc, char** argv, int first,
                            const std::set<std::string>& value_flags,
                            const std::set<std::string>& bool_flags);

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& def = "") const;
  // An integer in [lo, hi] (an error names the flag and the range).
  Result<int64_t> get_int(const std::string& name, int64_t def, int64_t lo = 0,
                          int64_t hi = INT32_MAX) const;
  Result<double> get_double(const std::string& name, double def) const;
  // A comma-separated list of numbers ("4096,8000"); `def` when absent.
  Result<std::vector<double>> get_double_list(const std::string& name,
                                              const std::string& def) const;
  // All values of a repeated flag (e.g. --stop a --stop b).
  std::vector<std::string> all(const std::string& name) const;

 private:
  std::multimap<std::string, std::string> values_;
};

// `text` as an integer in [lo, hi]; `what` names it in the error.
Result<int64_t> parse_int(const std::string& text, const std::string& what, int64_t lo,
                          int64_t hi);

}  // namespace ringlm::cli
