#include "proxy/upgrade.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern char** environ;

namespace rampart::proxy::upgrade {

namespace {

// Sockets per message: well under the kernel's SCM_MAX_FD (253).
constexpr size_t kPerMessage = 64;
constexpr size_t kMaxPayload = 16384;
int g_channel = -1;  // new process: the channel, until announceReady

bool sendBatch(int channel, const std::vector<Socket>& sockets, size_t from, size_t count) {
  std::string payload;
  for (size_t i = from; i < from + count; ++i) payload += sockets[i].address + "\n";
  if (payload.empty()) payload = "END\n";
  iovec iov{payload.data(), payload.size()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (count == 0 ? 1 : count)), 0);
  if (count > 0) {
    message.msg_control = control.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * count);
    int* fds = reinterpret_cast<int*>(CMSG_DATA(header));
    for (size_t i = 0; i < count; ++i) fds[i] = sockets[from + i].fd;
  }
  for (;;) {
    ssize_t sent = sendmsg(channel, &message, MSG_NOSIGNAL);
    if (sent >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace

bool handOver(const std::string& binary, const std::vector<std::string>& argv,
              const std::vector<Socket>& sockets, std::chrono::milliseconds timeout, pid_t* pid,
              std::string* error) {
  int pair[2];
  // SOCK_SEQPACKET keeps each batch (names and their descriptors) one message.
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    *error = std::string("socketpair: ") + std::strerror(errno);
    return false;
  }
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls until exec.
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (std::string_view(*entry).starts_with(std::string(kChannelEnv) + "=")) continue;
    env_strings.emplace_back(*entry);
  }
  env_strings.push_back(std::string(kChannelEnv) + "=" + std::to_string(pair[1]));
  std::vector<char*> envp;
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& arg : args) argp.push_back(arg.data());
  argp.push_back(nullptr);

  pid_t child = fork();
  if (child < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close(pair[0]);
    close(pair[1]);
    return false;
  }
  if (child == 0) {
    // The child's end survives exec; the signals the old process's main
    // thread takes synchronously (blocked there) are unblocked again.
    fcntl(pair[1], F_SETFD, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(binary.c_str(), argp.data(), envp.data());
    _exit(127);
  }
  close(pair[1]);
  const int channel = pair[0];
  auto fail = [&](std::string message) {
    *error = std::move(message);
    close(channel);
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == 0) {  // still running: it will not serve
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
    }
    return false;
  };
  // A send fails when the new process has already exited (EPIPE): its exit
  // status says why, as when it closes the channel later.
  auto sendFailed = [&]() {
    const std::string reason = std::string("sending the sockets: ") + std::strerror(errno);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(child, &status, WNOHANG) == child) {
        close(channel);
        *error = WIFEXITED(status)
                     ? "the new process exited with " + std::to_string(WEXITSTATUS(status))
                     : "the new process was killed by signal " + std::to_string(WTERMSIG(status));
        return false;
      }
      usleep(10000);
    }
    return fail(reason);
  };
  for (size_t from = 0; from < sockets.size(); from += kPerMessage) {
    const size_t count = std::min(kPerMessage, sockets.size() - from);
    if (!sendBatch(channel, sockets, from, count)) return sendFailed();
  }
  if (!sendBatch(channel, sockets, 0, 0)) return sendFailed();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("the new process did not say it serves in time");
    pollfd pfd{channel, POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (ready < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
    int status = 0;
    if (ready <= 0) {
      if (waitpid(child, &status, WNOHANG) == child) {
        close(channel);
        *error = WIFEXITED(status)
                     ? "the new process exited with " + std::to_string(WEXITSTATUS(status))
                     : "the new process was killed by signal " + std::to_string(WTERMSIG(status));
        return false;
      }
      continue;
    }
    char buffer[64];
    ssize_t got = recv(channel, buffer, sizeof(buffer) - 1, 0);
    if (got <= 0) {
      // Closed: it is exiting (a refused config, say); its status says why.
      bool reaped = false;
      for (int i = 0; i < 100 && !reaped; ++i) {
        reaped = waitpid(child, &status, WNOHANG) == child;
        if (!reaped) usleep(10000);
      }
      if (reaped) {
        close(channel);
        *error = WIFEXITED(status)
                     ? "the new process exited with " + std::to_string(WEXITSTATUS(status))
                     : "the new process was killed by signal " + std::to_string(WTERMSIG(status));
        return false;
      }
      return fail("the new process closed the channel");
    }
    if (std::string_view(buffer, static_cast<size_t>(got)).starts_with("READY")) {
      close(channel);
      *pid = child;
      return true;
    }
  }
}

std::optional<std::vector<Socket>> receive(std::string* error) {
  const char* name = std::getenv(kChannelEnv);
  if (name == nullptr) return std::nullopt;
  char* end = nullptr;
  long value = std::strtol(name, &end, 10);
  unsetenv(kChannelEnv);  // not for a later upgrade's child
  std::vector<Socket> out;
  if (end == name || *end != '\0' || value < 0) {
    *error = std::string(kChannelEnv) + " is not a descriptor";
    return out;
  }
  const int channel = static_cast<int>(value);
  fcntl(channel, F_SETFD, FD_CLOEXEC);
  for (;;) {
    pollfd pfd{channel, POLLIN, 0};
    if (poll(&pfd, 1, 5000) <= 0) {
      *error = "no sockets from the old process within 5 s";
      close(channel);
      return std::vector<Socket>{};
    }
    char payload[kMaxPayload];
    iovec iov{payload, sizeof(payload)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kPerMessage)];
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t got = recvmsg(channel, &message, MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      *error = "the old process closed the channel";
      close(channel);
      return std::vector<Socket>{};
    }
    std::vector<int> fds;
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* data = reinterpret_cast<const int*>(CMSG_DATA(header));
      fds.insert(fds.end(), data, data + count);
    }
    std::string_view text(payload, static_cast<size_t>(got));
    if (text == "END\n") break;
    size_t index = 0;
    while (!text.empty()) {
      size_t newline = text.find('\n');
      std::string_view line = text.substr(0, newline);
      if (index < fds.size()) out.push_back(Socket{std::string(line), fds[index]});
      ++index;
      if (newline == std::string_view::npos) break;
      text.remove_prefix(newline + 1);
    }
    for (size_t i = index; i < fds.size(); ++i) close(fds[i]);  // unnamed: not ours
  }
  g_channel = channel;
  return out;
}

void announceReady() {
  if (g_channel < 0) return;
  std::string message = "READY " + std::to_string(getpid()) + "\n";
  send(g_channel, message.data(), message.size(), MSG_NOSIGNAL);
  close(g_channel);
  g_channel = -1;
}

}  // namespace rampart::proxy::upgrade
