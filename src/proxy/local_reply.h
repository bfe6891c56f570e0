// Responses Rampart makes itself: application/problem+json (RFC 9457) with
// the status, a fixed title and the request id; nothing internal leaks.
#pragma once

#include <string_view>

#include "core/buffer.h"
#include "proxy/phases.h"

namespace rampart::proxy {

// Appends a complete response (head and body) for `reply` to `out`.
// `close` adds "Connection: close"; `head_only` omits the body (HEAD requests).
void appendLocalReply(core::Buffer& out, const LocalReply& reply, std::string_view request_id,
                      bool close, bool head_only);

// The standard reason phrase of a status ("Not Found"), or "Unknown".
std::string_view reasonPhrase(uint16_t status);

}  // namespace rampart::proxy
