// Binary upgrade (docs/operations.md): the running process starts the new
// binary and hands it its listening sockets over a Unix socket
// (SCM_RIGHTS), each named by the listener address it serves; the new
// process serves on them and says so; then the old one drains. The sockets
// are never closed while connections may be queued on them: the new process
// holds every one, so the old one closing its copies resets nothing.
// Both sides run on the main thread, off the request path.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rampart::proxy::upgrade {

// The environment variable that names the new process's end of the channel.
inline constexpr const char* kChannelEnv = "RAMPART_UPGRADE_FD";

// A listening socket and the listener address it serves ("127.0.0.1:8080").
struct Socket {
  std::string address;
  int fd = -1;
};

// Old process. Starts `binary` with `argv` (argv[0] included), hands it
// `sockets` (the fds stay open here), and waits up to `timeout` for it to
// say it serves. True with `*pid`; false with `*error` when it exited
// (refused its config, say), closed the channel, or was too slow (then it
// is killed): the caller keeps serving.
bool handOver(const std::string& binary, const std::vector<std::string>& argv,
              const std::vector<Socket>& sockets, std::chrono::milliseconds timeout, pid_t* pid,
              std::string* error);

// New process: the sockets handed over when started by handOver (the
// channel named by kChannelEnv), or nullopt when not started that way. An
// empty vector with `*error` set when the channel failed.
std::optional<std::vector<Socket>> receive(std::string* error);

// New process, once every worker serves: tells the old one, which then
// drains. Closes the channel.
void announceReady();

}  // namespace rampart::proxy::upgrade
