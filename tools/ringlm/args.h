// Minimal command-line flag parsing for the ringlm tool: --name value,
// --name=value and boolean --name; unknown flags are errors.
#pragma once

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
  Result<int64_t> get_int(const std::string& name, int64_t def) const;
  Result<double> get_double(const std::string& name, double def) const;
  // A comma-separated list of numbers ("4096,8000"); `def` when absent.
  Result<std::vector<double>> get_double_list(const std::string& name,
                                              const std::string& def) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // All values of a repeated flag (e.g. --stop a --stop b).
  std::vector<std::string> all(const std::string& name) const;

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace ringlm::cli
