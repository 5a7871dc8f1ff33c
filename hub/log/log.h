// Structured log lines: one line per event on stderr, JSON (default) or key=value text.
// Thread-safe: lines from concurrent threads never interleave.
#ifndef ACCORD_HUB_LOG_LOG_H_
#define ACCORD_HUB_LOG_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace accord::log {

enum class Format { kJson, kText };
enum class Level { kInfo, kWarning, kError };

// Chooses the format of every later line. Call once at start-up.
void SetFormat(Format format);

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, int v) : Field(k, static_cast<long long>(v)) {}
  Field(std::string_view k, unsigned v) : Field(k, static_cast<long long>(v)) {}
  Field(std::string_view k, long v) : Field(k, static_cast<long long>(v)) {}
  Field(std::string_view k, unsigned long v) : Field(k, static_cast<long long>(v)) {}
  std::string_view key;
  std::string value;
  bool number = false;
};

// Writes {"time":..., "level":..., "event": event, fields...} as one line.
void Write(Level level, std::string_view event, std::initializer_list<Field> fields = {});

inline void Info(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, event, fields);
}
inline void Warning(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarning, event, fields);
}
inline void Error(std::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, event, fields);
}

}  // namespace accord::log

#endif  // ACCORD_HUB_LOG_LOG_H_
