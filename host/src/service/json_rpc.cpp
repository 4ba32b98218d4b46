// JSON-RPC 2.0 framing; see dlhost/host/json_rpc.hpp.
#include "dlhost/host/json_rpc.hpp"

namespace dlhost::rpc {
namespace {

Json error_response(const Json &id, int code, const std::string &message) {
  return Json{{"jsonrpc", "2.0"}, {"error", {{"code", code}, {"message", message}}}, {"id", id}};
}

// An id is a string, a number or null (the spec's SHOULD NOT for fractions
// is the client's business).
bool valid_id(const Json &id) {
  return id.is_string() || id.is_number() || id.is_null();
}

const char *type_name(const Json &j) {
  return j.type_name();
}

}  // namespace

void Dispatcher::add(std::string name, Method method) {
  methods_.emplace(std::move(name), std::move(method));
}

std::optional<Json> Dispatcher::call(const Json &request) const {
  if (!request.is_object())
    return error_response(nullptr, kInvalidRequest,
                          std::string("a call must be an object, not ") + type_name(request));
  const auto id_it = request.find("id");
  const bool notification = id_it == request.end();
  const Json id = notification ? Json(nullptr) : *id_it;
  if (!notification && !valid_id(id))
    return error_response(nullptr, kInvalidRequest, "id: expected a string, a number or null");
  const auto version = request.find("jsonrpc");
  if (version == request.end() || *version != "2.0")
    return error_response(id, kInvalidRequest, "jsonrpc: expected \"2.0\"");
  const auto method = request.find("method");
  if (method == request.end() || !method->is_string())
    return error_response(id, kInvalidRequest, "method: expected a string");
  const auto params = request.find("params");
  if (params != request.end() && !params->is_object() && !params->is_array())
    return error_response(id, kInvalidParams, "params: expected an object");
  const auto it = methods_.find(method->get<std::string>());
  if (it == methods_.end())
    return error_response(id, kMethodNotFound,
                          "method '" + method->get<std::string>() + "' does not exist");
  Json result;
  try {
    result = it->second(params == request.end() ? Json(nullptr) : *params);
  } catch (const RpcError &e) {
    return notification ? std::nullopt : std::optional<Json>(error_response(id, e.code, e.what()));
  } catch (const std::exception &e) {
    return notification ? std::nullopt
                        : std::optional<Json>(error_response(id, kInternalError, e.what()));
  }
  if (notification) return std::nullopt;
  return Json{{"jsonrpc", "2.0"}, {"result", std::move(result)}, {"id", id}};
}

std::optional<std::string> Dispatcher::handle(const std::string &body) const {
  Json request;
  try {
    request = Json::parse(body);
  } catch (const Json::parse_error &e) {
    return error_response(nullptr, kParseError, std::string("not JSON: ") + e.what()).dump();
  }
  if (!request.is_array()) {
    auto response = call(request);
    return response ? std::optional<std::string>(response->dump()) : std::nullopt;
  }
  if (request.empty()) return error_response(nullptr, kInvalidRequest, "an empty batch").dump();
  Json responses = Json::array();
  for (const auto &one : request)
    if (auto response = call(one)) responses.push_back(std::move(*response));
  if (responses.empty()) return std::nullopt;
  return responses.dump();
}

const Json &object_params(const Json &params) {
  static const Json kEmpty = Json::object();
  if (params.is_null()) return kEmpty;
  if (!params.is_object()) throw RpcError(kInvalidParams, "params: expected an object");
  return params;
}

std::optional<std::string> optional_string(const Json &params, const char *name) {
  const auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::nullopt;
  if (!it->is_string())
    throw RpcError(kInvalidParams,
                   std::string("params.") + name + ": expected a string, not " + it->type_name());
  return it->get<std::string>();
}

std::string string_param(const Json &params, const char *name) {
  auto value = optional_string(params, name);
  if (!value) throw RpcError(kInvalidParams, std::string("params.") + name + ": missing");
  return *value;
}

std::optional<std::int64_t> optional_integer(const Json &params, const char *name, std::int64_t min,
                                             std::int64_t max) {
  const auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer())
    throw RpcError(kInvalidParams,
                   std::string("params.") + name + ": expected an integer, not " + it->type_name());
  const auto v = it->get<std::int64_t>();
  if (v < min || v > max)
    throw RpcError(kInvalidParams, std::string("params.") + name + ": " + std::to_string(v) +
                                       " is out of range " + std::to_string(min) + ".." +
                                       std::to_string(max));
  return v;
}

}  // namespace dlhost::rpc
