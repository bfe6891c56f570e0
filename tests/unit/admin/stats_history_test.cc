#include "admin/stats_history.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::admin {
namespace {

TEST(StatsHistoryTest, SamplesAreDifferencesOfTotals) {
  StatsHistory history;
  HistoryTotals totals;
  history.sample(totals, 1000, 0);  // the first call only sets the baseline
  EXPECT_EQ(history.size(), 0u);
  totals.requests = 200;
  totals.classes[1] = 190;
  totals.classes[4] = 10;
  totals.refusals[0] = 4;
  totals.bytes_in = 2000;
  totals.connections_open = 7;
  history.sample(totals, 3000, 2000);  // two seconds later
  ASSERT_EQ(history.size(), 1u);
  HistorySample s = history.last(1).at(0);
  EXPECT_EQ(s.requests, 200u);
  EXPECT_DOUBLE_EQ(s.seconds, 2.0);
  EXPECT_EQ(s.classes[4], 10u);
  EXPECT_EQ(s.connections_open, 7u);
  const std::string json = history.json(10);
  EXPECT_NE(json.find("\"rps\":[100.0]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"rps_5xx\":[5.0]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"bytes_in_ps\":[1000.0]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"t\":[3000]"), std::string::npos) << json;
}

TEST(StatsHistoryTest, TheRingKeepsTheLastSamplesOldestFirst) {
  StatsHistory history;
  HistoryTotals totals;
  for (int i = 0; i <= static_cast<int>(StatsHistory::kSamples) + 10; ++i) {
    totals.requests = static_cast<uint64_t>(i) * static_cast<uint64_t>(i);
    history.sample(totals, i * 1000, i * 1000);
  }
  EXPECT_EQ(history.size(), StatsHistory::kSamples);
  std::vector<HistorySample> last = history.last(3);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_LT(last[0].unix_ms, last[2].unix_ms);
  // i^2 - (i-1)^2 = 2i - 1 for the newest i.
  const uint64_t newest = StatsHistory::kSamples + 10;
  EXPECT_EQ(last[2].requests, 2 * newest - 1);
}

}  // namespace
}  // namespace rampart::admin
