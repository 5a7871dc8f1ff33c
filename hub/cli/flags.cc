#include "hub/cli/flags.h"

#include "absl/strings/str_cat.h"

namespace accord::cli {

absl::StatusOr<Flags> Flags::Parse(const std::vector<std::string>& args, const std::set<std::string>& known) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      flags.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    }
    if (!known.count(name)) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    flags.values_[name] = value;
  }
  return flags;
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<std::string> Flags::Require(const std::string& name) const {
  std::string v = Get(name);
  if (v.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
  return v;
}

}  // namespace accord::cli
