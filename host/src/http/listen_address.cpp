// Parsing where a server listens; see listen_address.hpp.
#include "dlhost/host/listen_address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "dlhost/host/settings.hpp"

namespace dlhost {
namespace {

// "PORT", ":PORT", "HOST:PORT", "[V6]:PORT" -> host text and port text.
std::pair<std::string, std::string> split_host_port(const std::string &text,
                                                    const std::string &name) {
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw ConfigError(name + ": expected [IPv6]:PORT");
    return {text.substr(1, close - 1), text.substr(close + 2)};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return {"", text};
  if (text.find(':') != colon) throw ConfigError(name + ": write an IPv6 address as [ADDR]:PORT");
  return {text.substr(0, colon), text.substr(colon + 1)};
}

std::uint16_t parse_port(const std::string &port, const std::string &name) {
  char *end = nullptr;
  errno = 0;
  const long v = port.empty() ? -1 : std::strtol(port.c_str(), &end, 10);
  if (v < 0 || v > 65535 || errno || (end && *end))
    throw ConfigError(name + ": expected a port number 0-65535");
  return static_cast<std::uint16_t>(v);
}

}  // namespace

std::string ListenAddress::url() const {
  return "http://" + host + ":" + std::to_string(port) + "/";
}

ListenAddress parse_listen_address(const std::string &text, const std::string &option) {
  ListenAddress a;
  a.name = option + " " + text;
  auto [host, port_text] = split_host_port(text, a.name);
  a.port = parse_port(port_text, a.name);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  addrinfo hints{}, *res = nullptr;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) {
    throw ConfigError(a.name +
                      ": not an IP address (host names are not resolved: give 127.0.0.1, or an "
                      "interface's address such as 0.0.0.0 to listen beyond loopback)");
  }
  std::memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  const bool v6 = res->ai_family == AF_INET6;
  ::freeaddrinfo(res);
  if (v6) {
    reinterpret_cast<sockaddr_in6 *>(&a.addr)->sin6_port = htons(a.port);
  } else {
    reinterpret_cast<sockaddr_in *>(&a.addr)->sin_port = htons(a.port);
  }
  a.host = v6 ? "[" + host + "]" : host;
  return a;
}

}  // namespace dlhost
