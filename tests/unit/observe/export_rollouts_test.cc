// /rollouts and the rollout and mirror families of /metrics
// (observe/export_rollouts.cc): the JSON parses and says what the rows say;
// every family has its HELP and TYPE and one sample per series.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <string>

#include "observe/export.h"

namespace rampart::observe {
namespace {

MetricsSources sources() {
  MetricsSources out;
  RolloutRow row;
  row.route = "or\"ders";
  row.cluster = "new";
  row.from_cluster = "old";
  row.step = 1;
  row.steps = {1, 5, 25};
  row.weight = 5;
  row.state = "advancing";
  row.in_state_ms = 1200;
  row.hold_ms = 60000;
  row.max_error_rate = 0.01;
  row.max_p99_ms = 250;
  row.min_requests = 100;
  row.requests = 40;
  row.failures = 1;
  row.error_rate = 0.025;
  row.p99_ms = 12.5;
  row.old_requests = 700;
  row.breach = "none";
  out.rollouts.push_back(row);
  out.mirrors.push_back({"accounts", {{"match", 7}, {"status_mismatch", 2}}});
  return out;
}

TEST(ExportRollouts, JsonSaysWhatTheRowsSay) {
  std::string json = renderRolloutsJson(sources());
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  simdjson::dom::array rollouts = doc["rollouts"];
  ASSERT_EQ(rollouts.size(), 1u);
  simdjson::dom::element r = rollouts.at(0);
  EXPECT_EQ(std::string_view(r["route"]), "or\"ders");
  EXPECT_EQ(std::string_view(r["state"]), "advancing");
  EXPECT_EQ(uint64_t(r["weight"]), 5u);
  EXPECT_EQ(uint64_t(r["step"]), 1u);
  EXPECT_EQ(simdjson::dom::array(r["steps"]).size(), 3u);
  EXPECT_EQ(uint64_t(r["in_state_ms"]), 1200u);
  EXPECT_DOUBLE_EQ(double(r["guard"]["max_error_rate"]), 0.01);
  EXPECT_EQ(uint64_t(r["guard"]["max_p99_ms"]), 250u);
  EXPECT_EQ(uint64_t(r["window"]["requests"]), 40u);
  EXPECT_DOUBLE_EQ(double(r["window"]["error_rate"]), 0.025);
  EXPECT_DOUBLE_EQ(double(r["window"]["p99_ms"]), 12.5);
  EXPECT_EQ(std::string_view(r["from"]), "old");
  EXPECT_EQ(renderRolloutsJson(MetricsSources{}), "{\"rollouts\":[]}");
}

TEST(ExportRollouts, PrometheusFamiliesAndSeries) {
  std::string text;
  appendRolloutPrometheus(sources(), &text);
  EXPECT_NE(text.find("# TYPE rampart_rollout_weight gauge\n"), std::string::npos);
  EXPECT_NE(text.find("rampart_rollout_weight{route=\"or\\\"ders\",cluster=\"new\"} 5\n"),
            std::string::npos);
  EXPECT_NE(text.find("rampart_rollout_step{route=\"or\\\"ders\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("rampart_rollout_state{route=\"or\\\"ders\",state=\"advancing\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("rampart_rollout_state{route=\"or\\\"ders\",state=\"done\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE rampart_rollout_step_backs_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE rampart_mirror_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("rampart_mirror_total{route=\"accounts\",result=\"status_mismatch\"} 2\n"),
            std::string::npos);
  std::string none;
  appendRolloutPrometheus(MetricsSources{}, &none);
  EXPECT_EQ(none, "");
}

}  // namespace
}  // namespace rampart::observe
