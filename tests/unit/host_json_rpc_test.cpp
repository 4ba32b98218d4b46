// JSON-RPC 2.0 framing of `dlhost serve` (json_rpc.hpp): the spec's cases.
#include <gtest/gtest.h>

#include "dlhost/host/json_rpc.hpp"

namespace dlhost::rpc {
namespace {

Dispatcher echo() {
  Dispatcher d;
  d.add("echo", [](const Json &p) { return Json{{"got", string_param(object_params(p), "x")}}; });
  d.add("boom", [](const Json &) -> Json { throw std::runtime_error("exploded"); });
  return d;
}

Json answer(const Dispatcher &d, const std::string &body) {
  auto r = d.handle(body);
  EXPECT_TRUE(r.has_value()) << body;
  return r ? Json::parse(*r) : Json();
}

TEST(JsonRpc, CallAnswersWithItsId) {
  const Json r =
      answer(echo(), R"({"jsonrpc":"2.0","id":"a1","method":"echo","params":{"x":"y"}})");
  EXPECT_EQ(r["id"], "a1");
  EXPECT_EQ(r["result"]["got"], "y");
}

TEST(JsonRpc, ErrorsUseTheStandardCodesAndNameWhatWasWrong) {
  const auto d = echo();
  EXPECT_EQ(answer(d, "{")["error"]["code"], kParseError);
  EXPECT_EQ(answer(d, "7")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(answer(d, R"({"id":1,"method":"echo"})")["error"]["code"], kInvalidRequest);
  EXPECT_EQ(answer(d, R"({"jsonrpc":"2.0","id":{},"method":"echo"})")["error"]["code"],
            kInvalidRequest);
  const Json missing = answer(d, R"({"jsonrpc":"2.0","id":1,"method":"nope"})");
  EXPECT_EQ(missing["error"]["code"], kMethodNotFound);
  EXPECT_EQ(missing["id"], 1);
  const Json bad = answer(d, R"({"jsonrpc":"2.0","id":2,"method":"echo","params":{"x":3}})");
  EXPECT_EQ(bad["error"]["code"], kInvalidParams);
  EXPECT_EQ(bad["error"]["message"], "params.x: expected a string, not number");
  EXPECT_EQ(answer(d, R"({"jsonrpc":"2.0","id":3,"method":"boom"})")["error"]["code"],
            kInternalError);
}

TEST(JsonRpc, BatchAnswersEachCallButNotNotifications) {
  const auto d = echo();
  const Json r = answer(d, R"([{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":"a"}},
                               {"jsonrpc":"2.0","method":"echo","params":{"x":"b"}},
                               {"jsonrpc":"2.0","id":3,"method":"nope"}, 5])");
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 3u);  // the notification has no answer; the 5 gets an error
  EXPECT_EQ(r[0]["result"]["got"], "a");
  EXPECT_EQ(r[1]["error"]["code"], kMethodNotFound);
  EXPECT_EQ(r[2]["error"]["code"], kInvalidRequest);
  EXPECT_EQ(answer(d, "[]")["error"]["code"], kInvalidRequest);
  EXPECT_FALSE(d.handle(R"([{"jsonrpc":"2.0","method":"echo","params":{"x":"b"}}])").has_value());
}

TEST(JsonRpc, IntegerParamsAreBounded) {
  const Json p = Json::parse(R"({"n":5,"f":1.5,"s":"7"})");
  EXPECT_EQ(optional_integer(p, "n", 0, 10), 5);
  EXPECT_EQ(optional_integer(p, "absent", 0, 10), std::nullopt);
  EXPECT_THROW(optional_integer(p, "n", 6, 10), RpcError);
  EXPECT_THROW(optional_integer(p, "f", 0, 10), RpcError);
  EXPECT_THROW(optional_integer(p, "s", 0, 10), RpcError);
}

}  // namespace
}  // namespace dlhost::rpc
