// The conformance suite's own HTTP origin: a tiny threaded HTTP/1.1 server
// on 127.0.0.1 and an ephemeral port, so `dlhost conformance` needs nothing
// installed or running. Every response closes its connection.
//   GET /bytes/N/NAME   200, N deterministic bytes (content_of(NAME, N))
//   GET /slow/N/NAME    200, N bytes dribbled 1 KiB every 50 ms (cancel tests)
//   anything else       404
// One thread accepts; each connection gets its own (detached) thread, counted
// in `active_`. stop() (and the destructor) closes the listener, tells slow
// responses to end and waits until no connection thread runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

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
  void accept_loop();
  void serve(int fd);
  void send_body(int fd, const std::string &body, bool slow, const std::string &etag);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t active_ = 0;
};

}  // namespace dlhost::conformance
