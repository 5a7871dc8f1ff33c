// Minimal flag parsing for accordctl: `--name value` or `--name=value`, plus positionals.
#ifndef ACCORD_HUB_CLI_FLAGS_H_
#define ACCORD_HUB_CLI_FLAGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace accord::cli {

class Flags {
 public:
  // `known` lists the flags the command accepts; anything else is INVALID_ARGUMENT.
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& args, const std::set<std::string>& known);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // INVALID_ARGUMENT "--name is required" when absent or empty.
  absl::StatusOr<std::string> Require(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace accord::cli

#endif  // ACCORD_HUB_CLI_FLAGS_H_
