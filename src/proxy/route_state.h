// State that belongs to a route by name and must outlive config reloads (a
// rollout's current step and its history; a weighted route's step-back, when
// it moves here): owned by the Server, looked up while a reload is compiled
// and published, shared with whatever the new snapshot's objects hold. Used
// on the control threads only, under the Server's reload lock; how workers
// read an entry (atomics) is its module's business. Lives as long as the
// Server; an entry, until a reload drops its route or changes its fingerprint.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::proxy {

class RouteStateRegistry {
 public:
  // The entry of `route` for `kind` ("rollout"), if one was made for the
  // same `fingerprint` (what the state depends on, e.g. the route's rollout
  // spec as written); else a new one from `make()`, which replaces it. `T`
  // must be the same for a given kind.
  template <class T, class Make>
  std::shared_ptr<T> obtain(std::string_view kind, const std::string& route,
                            const std::string& fingerprint, Make make) {
    Entry& entry = entries_[Key{std::string(kind), route}];
    if (entry.state == nullptr || entry.fingerprint != fingerprint) {
      entry.fingerprint = fingerprint;
      entry.state = std::shared_ptr<T>(make());
    }
    return std::static_pointer_cast<T>(entry.state);
  }

  // After a reload was published: entries of routes it no longer names go.
  void retainOnly(const std::vector<std::string>& routes) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      bool named = false;
      for (const std::string& route : routes) named = named || route == it->first.second;
      it = named ? std::next(it) : entries_.erase(it);
    }
  }

  size_t size() const { return entries_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;  // kind, route name
  struct Entry {
    std::string fingerprint;
    std::shared_ptr<void> state;
  };
  std::map<Key, Entry> entries_;
};

}  // namespace rampart::proxy
