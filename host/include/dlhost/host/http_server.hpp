// The HTTP layer of the host's servers: the live status server (`--status`)
// and the conformance suite's origin now, `dlhost serve` (JSON-RPC at POST,
// Server-Sent Events) later. Parsing requests, routing and writing responses
// (content providers, chunked encoding, HEAD, Range) are cpp-httplib's,
// Debian's libcpp-httplib. What this layer adds is how connections are held.
//
// cpp-httplib 0.11 gives every accepted connection a pool thread from
// accept() to close(): the thread waits for the request head with a
// per-read timeout, and between keep-alive requests. A few hundred idle
// connections, or one client that sends a byte a second, then hold every
// thread, and a request behind them waits for minutes; stopping waits for
// them too. So here a connection takes a pool thread only while it has a
// complete request head to answer:
//
//   accept     cpp-httplib's own accept loop, on the server's thread, hands
//              each new connection to the waiting room (the override of
//              process_and_close_socket()).
//   waiting    one thread, epoll: reads each connection's request head as its
//   room       bytes arrive, without blocking. A complete head goes to the
//              pool. A connection that has not sent one within
//              Limits::head_timeout (from connecting, or from its last
//              response) is closed; so is a head over Limits::max_head_bytes
//              (431). With Limits::max_connections open, the waiting
//              connection closest to its timeout is closed to make room.
//   pool       Limits::threads threads run cpp-httplib's process_request()
//              on the buffered head; body reads and response writes wait at
//              most Limits::io_timeout for progress. The connection then goes
//              back to the waiting room for its next request (keep-alive, at
//              most Limits::keep_alive_requests on one connection).
//
// stop() (and the destructor) closes the listener and shuts every connection
// down, so a read or write in progress returns at once: a server with
// clients attached stops in milliseconds. stop(finish) first lets the
// answers being written complete, for at most `finish`.
//
// Register handlers on routes() before start(); they run on pool threads, so
// they must be thread-safe and should not block for long (an SSE stream
// holds its pool thread while it runs).
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "dlhost/host/listen_address.hpp"

namespace dlhost::http {

struct Limits {
  std::size_t threads = 4;
  // Open connections at most; never more than a quarter of RLIMIT_NOFILE,
  // so that clients cannot take the descriptors the job needs for its files.
  std::size_t max_connections = 1024;
  std::chrono::milliseconds head_timeout{10000};
  std::chrono::milliseconds io_timeout{5000};
  std::size_t max_head_bytes = 16384;
  std::size_t keep_alive_requests = 100;
};

class Server {
 public:
  // Binds and listens (throws ConfigError "NAME: cannot listen: why").
  Server(const ListenAddress &address, Limits limits);
  ~Server();  // stop()
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  httplib::Server &routes();
  // Starts serving; `thread_name` (at most 15 characters) names the threads
  // for top -H and perf.
  void start(const char *thread_name);
  // Stops accepting; requests being answered get up to `finish` to complete
  // (0: none); then every connection is shut down.
  void stop(std::chrono::milliseconds finish = std::chrono::milliseconds(0));

  const ListenAddress &address() const;  // the port is the bound one

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dlhost::http
