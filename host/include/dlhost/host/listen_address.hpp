// Where one of the host's HTTP servers listens (the status server of
// `--status`; `dlhost serve` later), parsed from what the operator wrote.
//
// PORT or :PORT means 127.0.0.1; an IP address (127.0.0.1, 0.0.0.0, ::1,
// [::]) is used as given; "localhost" means 127.0.0.1. Host names are refused
// rather than resolved, so a server only ever listens beyond loopback when the
// operator wrote that address on the command line.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace dlhost {

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;  // as it goes into a URL: "127.0.0.1", "[::1]"
  std::uint16_t port = 0;
  std::string name;  // how errors name it: the option and its text, "--status 8080"

  std::string url() const;  // "http://127.0.0.1:8080/"
};

// "PORT", ":PORT", "HOST:PORT", "[V6]:PORT". `option` names the setting in
// errors; throws ConfigError "OPTION TEXT: why".
ListenAddress parse_listen_address(const std::string &text, const std::string &option);

}  // namespace dlhost
