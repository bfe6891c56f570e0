// Process logging: human-readable lines or JSON lines on stderr (spdlog).
// Configured once at start-up on the main thread; logging is thread-safe.
// The request path logs nothing at info level: per-request records belong to
// the access log (observe/), not here.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace rampart::core {

enum class LogStyle { kText, kJson };

// Sets the default logger to stderr in `style` at `level` ("info", "debug", ...).
// Returns false when the level name is unknown (the level stays "info").
bool initLogging(LogStyle style, std::string_view level);

// Escapes `text` for use inside a JSON string (no surrounding quotes).
void appendJsonEscaped(std::string& out, std::string_view text);

}  // namespace rampart::core
