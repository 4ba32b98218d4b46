// The conformance suite's own HTTP origin on 127.0.0.1 and an ephemeral
// port, so `dlhost conformance` needs nothing installed or running. It is
// the host's HTTP layer (http_server.hpp, cpp-httplib) with two routes; every
// response closes its connection.
//   GET /bytes/N/NAME   200, N deterministic bytes (content_of(NAME, N))
//   GET /slow/N/NAME    200, N bytes dribbled 1 KiB every 50 ms (cancel tests);
//                       a content provider, so a client that leaves (a
//                       cancelled transfer) ends the response at its next write
//   anything else       404
// stop() (and the destructor) ends every response at once and waits until no
// handler runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace dlhost::http {
class Server;
}

namespace dlhost::conformance {

// The bytes served for NAME (a deterministic xorshift stream seeded by NAME).
std::string content_of(const std::string &name, std::size_t size);
// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(const std::string &data);

class Origin {
 public:
  Origin();  // listens at once; throws std::runtime_error
  ~Origin();
  Origin(const Origin &) = delete;
  Origin &operator=(const Origin &) = delete;

  std::string url(const std::string &path) const;  // "http://127.0.0.1:PORT" + path
  void stop();

 private:
  std::unique_ptr<http::Server> http_;
};

}  // namespace dlhost::conformance
