// JSON-RPC 2.0 framing (https://www.jsonrpc.org/specification), for
// `dlhost serve`'s POST /rpc. Pure: a request body in, a response body out.
//
// A body is one call or a batch (an array of calls). A call without "id" is a
// notification: it runs, and nothing is answered for it (a batch of
// notifications only answers nothing: the service then sends 204). Errors use
// the standard codes, and a message that names what was wrong:
//   -32700 parse error        the body is not JSON
//   -32600 invalid request    not a call object, "jsonrpc" not "2.0", an empty batch
//   -32601 method not found   "method 'x' does not exist"
//   -32602 invalid params     "params.url: expected a string" (rpc_params.hpp helpers)
//   -32603 internal error     a method threw something unexpected
//   -32000 and below          the service's own (a conflicting path, shutting down)
// A method is a function from params (an object, or null when absent) to a
// result; it reports a bad call by throwing RpcError.
//
// Threads: handle() is const and may run on many threads at once; the
// methods must be thread-safe themselves.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace dlhost::rpc {

using Json = nlohmann::json;

enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kServiceError = -32000,  // the call was understood and refused (a conflict, a full queue)
  kShuttingDown = -32001,  // shutdownOrchestrator was called: no new work
  kNotFound = -32002,      // getFile/cancel: no such id
};

struct RpcError : std::runtime_error {
  RpcError(int code, const std::string &message) : std::runtime_error(message), code(code) {}
  int code;
};

using Method = std::function<Json(const Json &params)>;

class Dispatcher {
 public:
  // Before the first handle(); not thread-safe.
  void add(std::string name, Method method);
  // The response body, or nullopt when nothing is to be answered (only
  // notifications). Never throws.
  std::optional<std::string> handle(const std::string &body) const;

 private:
  std::optional<Json> call(const Json &request) const;
  std::unordered_map<std::string, Method> methods_;
};

// Reading params: each throws RpcError(kInvalidParams, "params.NAME: ...").
const Json &object_params(const Json &params);  // null becomes {}
std::string string_param(const Json &params, const char *name);
std::optional<std::string> optional_string(const Json &params, const char *name);
std::optional<std::int64_t> optional_integer(const Json &params, const char *name, std::int64_t min,
                                             std::int64_t max);

}  // namespace dlhost::rpc
