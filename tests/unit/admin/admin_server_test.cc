#include "admin/admin_server.h"

#include <gtest/gtest.h>

#include "observe/export.h"
#include "observe/metrics.h"

namespace rampart::admin {
namespace {

observe::MetricsSources noWorkers(bool draining) {
  observe::MetricsSources sources;
  sources.draining = draining;
  return sources;
}

std::string ask(std::string_view method, std::string_view target, std::string_view auth = {},
                const std::string& token = {}, bool draining = false) {
  AdminServer::Sources sources = [draining] { return noWorkers(draining); };
  return answerAdminRequest(method, target, auth, token, sources);
}

TEST(AdminServerTest, EndpointsAndStatuses) {
  EXPECT_EQ(ask("GET", "/live").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/ready").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/ready", {}, {}, true).rfind("HTTP/1.1 503 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/metrics?x=1").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/stats").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(ask("GET", "/other").rfind("HTTP/1.1 404 ", 0), 0u);
  std::string post = ask("POST", "/metrics");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
}

TEST(AdminServerTest, HeadHasTheHeadersAndNoBody) {
  std::string head = ask("HEAD", "/live");
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos);
}

TEST(AdminServerTest, TheTokenIsCheckedExactly) {
  const std::string token = "0123456789abcdef";
  EXPECT_EQ(ask("GET", "/stats", {}, token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Bearer 0123456789abcdeX", token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Bearer 0123456789abcdef0", token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Basic 0123456789abcdef", token).rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "Bearer 0123456789abcdef", token).rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_EQ(ask("GET", "/live", "bearer 0123456789abcdef", token).rfind("HTTP/1.1 200 ", 0), 0u);
}

AdminHooks hooksWithActions(int* drains, std::string* blocked) {
  AdminHooks hooks;
  hooks.sources = [] { return noWorkers(false); };
  hooks.drain = [drains] { ++*drains; };
  hooks.block = [blocked](const BlockOrder& order) {
    *blocked = order.text;
    return ActionAnswer{200, "{\"ok\":true}"};
  };
  hooks.unblock = [](const UnblockOrder&) { return ActionAnswer{200, "{}"}; };
  hooks.config_json = [] { return std::string("{\"workers\":1}"); };
  hooks.clients_json = [] { return std::string("{\"top\":[]}"); };
  return hooks;
}

TEST(AdminServerTest, PostActionsNeedPostAndTheToken) {
  int drains = 0;
  std::string blocked;
  AdminHooks hooks = hooksWithActions(&drains, &blocked);
  const std::string token = "0123456789abcdef";
  auto post = [&](std::string_view path, std::string_view body, std::string_view auth) {
    return answerAdminRequest(AdminRequest{"POST", path, auth, body, {}, {}}, token, hooks);
  };
  EXPECT_EQ(post("/drain", "", "").rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_EQ(drains, 0);
  EXPECT_EQ(post("/drain", "", "Bearer 0123456789abcdef").rfind("HTTP/1.1 202 ", 0), 0u);
  EXPECT_EQ(drains, 1);
  std::string get = answerAdminRequest(
      AdminRequest{"GET", "/drain", "Bearer 0123456789abcdef", {}, {}, {}}, token, hooks);
  EXPECT_EQ(get.rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(post("/clients/block", R"({"address":"10.9.8.7"})", "Bearer 0123456789abcdef")
                .rfind("HTTP/1.1 200 ", 0),
            0u);
  EXPECT_EQ(blocked, "10.9.8.7/32");
  std::string bad = post("/clients/block", R"({"address":"x"})", "Bearer 0123456789abcdef");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_NE(bad.find("not an IPv4/IPv6"), std::string::npos);
}

TEST(AdminServerTest, WithoutATokenPostsAreAllowed) {  // loopback only: the config sees to it
  int drains = 0;
  std::string blocked;
  AdminHooks hooks = hooksWithActions(&drains, &blocked);
  std::string out = answerAdminRequest(AdminRequest{"POST", "/drain", {}, {}, {}, {}}, "", hooks);
  EXPECT_EQ(out.rfind("HTTP/1.1 202 ", 0), 0u);
  EXPECT_EQ(drains, 1);
}

TEST(AdminServerTest, ConfigClientsDashboardAndHistory) {
  int drains = 0;
  std::string blocked;
  AdminHooks hooks = hooksWithActions(&drains, &blocked);
  const std::string token = "0123456789abcdef";
  const std::string auth = "Bearer 0123456789abcdef";
  auto get = [&](std::string_view path, std::string_view authorization,
                 const StatsHistory* history = nullptr) {
    return answerAdminRequest(AdminRequest{"GET", path, authorization, {}, {}, {}}, token, hooks,
                              history);
  };
  EXPECT_EQ(get("/config", "").rfind("HTTP/1.1 401 ", 0), 0u);
  EXPECT_NE(get("/config", auth).find("{\"workers\":1}"), std::string::npos);
  EXPECT_NE(get("/clients/top", auth).find("{\"top\":[]}"), std::string::npos);
  // The page carries no data: served without the token, it asks for it.
  std::string page = get("/dashboard", "");
  EXPECT_EQ(page.rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_NE(page.find("Content-Type: text/html"), std::string::npos);
  EXPECT_NE(page.find("sessionStorage"), std::string::npos);
  StatsHistory history;
  history.sample(HistoryTotals{}, 1, 0);
  history.sample(HistoryTotals{}, 2, 1000);
  std::string stats = get("/stats?history=5", auth, &history);
  EXPECT_NE(stats.find(",\"history\":{\"interval_ms\":1000,\"t\":[2]"), std::string::npos);
  EXPECT_EQ(stats.substr(stats.size() - 2), "}}");
}

TEST(AdminServerTest, PostsFromAnotherOriginAreRefused) {
  EXPECT_TRUE(sameOrigin("", "127.0.0.1:9901"));
  EXPECT_TRUE(sameOrigin("http://127.0.0.1:9901", "127.0.0.1:9901"));
  EXPECT_TRUE(sameOrigin("https://ADMIN.example:9901", "admin.example:9901"));
  EXPECT_FALSE(sameOrigin("http://evil.example", "127.0.0.1:9901"));
  EXPECT_FALSE(sameOrigin("null", "127.0.0.1:9901"));
  EXPECT_FALSE(sameOrigin("http://127.0.0.1:9901.evil", "127.0.0.1:9901"));
  int drains = 0;
  std::string blocked;
  AdminHooks hooks = hooksWithActions(&drains, &blocked);
  AdminRequest request{"POST", "/drain", {}, {}, "127.0.0.1:9901", "http://evil.example"};
  EXPECT_EQ(answerAdminRequest(request, "", hooks).rfind("HTTP/1.1 403 ", 0), 0u);
  EXPECT_EQ(drains, 0);
  request.origin = "http://127.0.0.1:9901";
  EXPECT_EQ(answerAdminRequest(request, "", hooks).rfind("HTTP/1.1 202 ", 0), 0u);
  EXPECT_EQ(drains, 1);
}

TEST(ExportTest, ListenerClusterEndpointHistogramsAndRefusals) {
  observe::WorkerMetrics metrics(1, 1, {2});
  observe::WorkerStats stats;
  metrics.recordResponse(0, 200, 300);
  metrics.recordListener(0, 300);
  metrics.recordCluster(0, 1, 200);
  metrics.recordCluster(0, UINT32_MAX, 100);  // no endpoint attempted: the cluster only
  metrics.recordRefusal("rate-limit");
  metrics.recordRefusal("upstream-connect-failure");
  metrics.recordRefusal("not-a-cause");
  std::vector<std::string> routes = {"api"};
  observe::MetricsSources sources;
  sources.route_names = &routes;
  sources.metrics = {&metrics};
  sources.stats = {&stats};
  sources.listener_names = {"main"};
  sources.clusters.push_back({"app", {}, 2, 1, {"10.0.0.1:80", "10.0.0.2:80"}});
  const std::string text = observe::renderPrometheus(sources);
  for (const char* line : {
           "rampart_listener_request_duration_seconds_count{listener=\"main\"} 1\n",
           "rampart_upstream_duration_seconds_count{cluster=\"app\"} 2\n",
           "rampart_endpoint_duration_seconds_count{cluster=\"app\",endpoint=\"10.0.0.2:80\"} 1\n",
           "rampart_endpoint_duration_seconds_count{cluster=\"app\",endpoint=\"10.0.0.1:80\"} 0\n",
           "rampart_refusals_total{cause=\"rate-limit\"} 1\n",
           "rampart_refusals_total{cause=\"upstream\"} 1\n",
           "rampart_refusals_total{cause=\"auth\"} 0\n",
           "rampart_cluster_endpoints{cluster=\"app\"} 2\n",
           "rampart_cluster_endpoints_healthy{cluster=\"app\"} 1\n",
           "rampart_bytes_received_total 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
  const std::string json = observe::renderStatsJson(sources);
  EXPECT_NE(json.find("\"refusals\":{\"bad-request\":0,\"shield\":0"), std::string::npos);
  EXPECT_NE(json.find("\"clusters\":[{\"cluster\":\"app\",\"endpoints\":2,\"healthy\":1,"
                      "\"requests\":2"),
            std::string::npos)
      << json;
}

TEST(ExportTest, EscapesLabelValuesAndJson) {
  EXPECT_EQ(observe::escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(observe::escapeJson("a\"b\\c\x01"), "a\\\"b\\\\c\\u0001");
}

}  // namespace
}  // namespace rampart::admin
