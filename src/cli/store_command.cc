#include "cli/store_command.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "config/config.h"
#include "config/yaml_reader.h"
#include "core/clock.h"
#include "store/client.h"

namespace rampart::cli {

StoreCommand::StoreCommand(CLI::App* app) {
  CLI::App* store = app->add_subcommand("store", "shared state in Redis (docs/store.md)");
  revoke_ = store->add_subcommand(
      "revoke", "revoke a credential on every instance: jti:<id> or key:<sha256 hex>");
  block_ = store->add_subcommand("block", "block a client address on every instance");
  for (CLI::App* command : {revoke_, block_}) {
    command->add_option("-c,--config", config_, "the gateway's config file (its `store:`)")
        ->required();
    command->add_option("subject", subject_, "what to revoke or block")->required();
    command->add_option("--for", duration_, "how long, e.g. 10m, 24h (default 1h)");
  }
}

int StoreCommand::run() const {
  config::LoadResult result = config::loadFile(config_);
  if (!result.ok()) {
    for (const auto& error : result.errors) std::cerr << config::format(error) << "\n";
    return 1;
  }
  const store::StoreSettings& settings = result.snapshot->store;
  if (!settings.enabled) {
    std::cerr << config_ << ": no `store:` section\n";
    return 1;
  }
  std::optional<std::chrono::milliseconds> lasting = config::yaml::parseDuration(duration_);
  if (!lasting || lasting->count() <= 0) {
    std::cerr << "--for: expected a duration like 10m or 24h, got '" << duration_ << "'\n";
    return 1;
  }
  const bool revoke = revoke_->parsed();
  if (revoke && subject_.rfind("jti:", 0) != 0 && subject_.rfind("key:", 0) != 0) {
    std::cerr << "revoke: expected jti:<id> or key:<sha256 hex>, got '" << subject_ << "'\n";
    return 1;
  }
  if (subject_.find(' ') != std::string::npos || subject_.empty()) {
    std::cerr << "subject: no spaces\n";
    return 1;
  }
  store::StoreClient client(settings, [](const store::StoreEvent&) {});
  client.start();
  auto waitFor = [](auto&& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  };
  if (!waitFor([&] { return client.up(); })) {
    std::cerr << "redis at " << settings.address_texts.front() << " not reachable\n";
    return 1;
  }
  store::StoreEvent event;
  event.kind = revoke ? store::StoreEvent::Kind::kRevoke : store::StoreEvent::Kind::kBlock;
  event.subject = subject_;
  event.until_unix_ms = core::unixMillis() + lasting->count();
  client.publish(event);
  if (!waitFor([&] { return client.stats().events_published.load() > 0; })) {
    std::cerr << "redis did not confirm the publication\n";
    return 1;
  }
  std::cout << (revoke ? "revoked " : "blocked ") << subject_ << " for " << duration_ << "\n";
  return 0;
}

}  // namespace rampart::cli
