#include "hub/log/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace accord::log {
namespace {

std::atomic<Format> g_format{Format::kJson};
std::mutex g_write_mutex;

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kInfo: return "info";
    case Level::kWarning: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}

// key=value: values with spaces, quotes or '=' are quoted, as logfmt does.
std::string TextValue(const std::string& v) {
  bool quote = v.empty() || v.find_first_of(" \"=\t\n") != std::string::npos;
  if (!quote) return v;
  return nlohmann::json(v).dump();
}

}  // namespace

void SetFormat(Format format) { g_format.store(format); }

void Write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (g_format.load() == Format::kJson) {
    nlohmann::ordered_json j;
    j["time"] = time;
    j["level"] = LevelName(level);
    j["event"] = event;
    for (const Field& f : fields) {
      if (f.number) {
        j[std::string(f.key)] = std::stoll(f.value);
      } else {
        j[std::string(f.key)] = f.value;
      }
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = "time=" + time + " level=" + std::string(LevelName(level)) + " event=" + TextValue(std::string(event));
    for (const Field& f : fields) line += " " + std::string(f.key) + "=" + TextValue(f.value);
  }
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace accord::log
