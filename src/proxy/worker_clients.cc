// The worker's side of the admin API's clients: top talkers (per request),
// addresses refused at accept, and the operator's blocks. Everything here
// runs on the worker's thread; the admin thread only posts to it.
#include "proxy/worker.h"

namespace rampart::proxy {

namespace {
// Counts cover the current window and the one before: 10 to 20 s of
// traffic, recent enough to show who is hammering now, long enough to rank.
constexpr int64_t kTalkerWindowMillis = 10'000;
constexpr size_t kTalkersReported = observe::TopTalkers::kCapacity;
}  // namespace

void Worker::rotateTalkers() {
  const int64_t window = loop_.now() / kTalkerWindowMillis;
  if (window == talker_window_) return;
  if (window == talker_window_ + 1) {
    talkers_previous_ = talkers_;
    refused_previous_ = refused_;
  } else {  // a quiet gap: the last window is old news too
    talkers_previous_.clear();
    refused_previous_.clear();
  }
  talkers_.clear();
  refused_.clear();
  talker_window_ = window;
}

void Worker::noteTalker(const net::SocketAddress& client, uint8_t* hint) {
  rotateTalkers();
  talkers_.record(observe::TalkerAddress::from(client.sockaddrPtr()), hint);
}

// Phase "admit", first: the operator's blocks, whatever the shield's config.
bool Worker::refusedByOperator(const net::SocketAddress& peer) {
  if (manual_blocks_.empty()) return false;
  if (manual_blocks_.blockedUntil(peer, core::monotonicMillis() * 1'000'000) == 0) return false;
  return true;
}

void Worker::snapshotClients(std::function<void(ClientsSnapshot)> done) {
  loop_.post([this, done = std::move(done)] {
    rotateTalkers();
    ClientsSnapshot out;
    out.requests = observe::mergeTalkers(
        {talkers_.top(kTalkersReported), talkers_previous_.top(kTalkersReported)},
        kTalkersReported);
    out.refused = observe::mergeTalkers(
        {refused_.top(kTalkersReported), refused_previous_.top(kTalkersReported)},
        kTalkersReported);
    done(std::move(out));
  });
}

void Worker::applyManualBlocks(shield::ManualBlocks blocks) {
  loop_.post([this, blocks = std::move(blocks)] { manual_blocks_ = blocks; });
}

void Worker::forgive(const net::SocketAddress& client) {
  loop_.post([this, client] { shield_.forgive(client); });
}

}  // namespace rampart::proxy
