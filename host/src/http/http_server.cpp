// The HTTP layer; see http_server.hpp for the design.
//
// Who touches what: a Connection is owned by `connections_` (under
// `mutex_`, which also guards the inbox). While it waits for a request head,
// only the waiting room's thread touches it (its buffer, epoll registration
// and deadline); while a pool thread serves it, only that thread does. The
// hand-overs go through the inbox (to the waiting room) and the pool's queue
// (to a pool thread), so each side sees what the other wrote. A connection's
// descriptor is closed under `mutex_`, and stop() shuts descriptors down
// under it too, so stop() never touches a descriptor number that was reused.
#include "dlhost/host/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dlhost/host/settings.hpp"

namespace dlhost::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kHeadEnd = "\r\n\r\n";
constexpr std::string_view kHeadTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";
constexpr int kEventsPerWait = 64;

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd &operator=(UniqueFd &&other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// cpp-httplib's accept loop hands each connection to a task queue; this one
// runs the hand-over at once, since process_and_close_socket() below only
// puts the connection into the waiting room.
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

int millis_until(Clock::time_point when, Clock::time_point now) {
  if (when <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - now).count();
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

// Waits up to `timeout` for `events` on `fd`; false on timeout.
bool wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  return n > 0 && !(p.revents & POLLNVAL);
}

void ip_and_port(int fd, bool peer, std::string &ip, int &port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  auto *sa = reinterpret_cast<sockaddr *>(&a);
  ip.clear();
  port = 0;
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return;
  char text[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) {
    const auto *v4 = reinterpret_cast<const sockaddr_in *>(&a);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto *v6 = reinterpret_cast<const sockaddr_in6 *>(&a);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    port = ntohs(v6->sin6_port);
  }
  ip = text;
}

std::size_t connection_cap(std::size_t wanted) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return wanted;
  return std::max<std::size_t>(16, std::min<std::size_t>(wanted, r.rlim_cur / 4));
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The length of the body a request head announces: 0 for none, -1 when the
// head cannot say (Transfer-Encoding, or a Content-Length that is no number).
long long declared_body(std::string_view head) {
  long long length = 0;
  for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;) {
    const auto next = head.find("\r\n", at + 2);
    const auto line = head.substr(at + 2, next == std::string_view::npos ? 0 : next - at - 2);
    at = next;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = line.substr(0, colon);
    if (same_name(name, "transfer-encoding")) return -1;
    if (!same_name(name, "content-length")) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec != std::errc() || end != value.data() + value.size() || length < 0) return -1;
  }
  return length;
}

void name_this_thread(const std::string &name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());  // top -H, perf
}

struct Connection {
  int fd = -1;
  std::string buffer;      // received, not yet read by cpp-httplib
  std::size_t offset = 0;  // of the first unread byte in `buffer`
  std::size_t served = 0;  // requests answered on this connection
  bool watched = false;    // in the waiting room's epoll set and deadlines
  std::multimap<Clock::time_point, Connection *>::iterator deadline;

  std::size_t unread() const { return buffer.size() - offset; }
  bool head_complete() const { return buffer.find(kHeadEnd, offset) != std::string::npos; }
  std::string_view next_head() const {  // the buffered head; head_complete() must be true
    const auto end = buffer.find(kHeadEnd, offset) + kHeadEnd.size();
    return std::string_view(buffer).substr(offset, end - offset);
  }
  void drop_read() {
    buffer.erase(0, offset);
    offset = 0;
  }
};

// What cpp-httplib reads a request from and writes its response to: first
// the bytes the waiting room buffered, then the socket, waiting at most
// `timeout` for each step of progress.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(Connection &c, std::chrono::milliseconds timeout) : c_(c), timeout_(timeout) {}

  bool is_readable() const override { return c_.unread() > 0 || wait_for(c_.fd, POLLIN, timeout_); }
  bool is_writable() const override { return wait_for(c_.fd, POLLOUT, timeout_); }

  ssize_t read(char *ptr, size_t size) override {
    if (c_.unread() > 0) {
      const auto n = std::min(size, c_.unread());
      std::memcpy(ptr, c_.buffer.data() + c_.offset, n);
      c_.offset += n;
      consumed_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!wait_for(c_.fd, POLLIN, timeout_)) return -1;
    const auto n = ::recv(c_.fd, ptr, size, MSG_DONTWAIT);
    if (n > 0) consumed_ += static_cast<std::size_t>(n);
    return n;
  }
  std::size_t consumed() const { return consumed_; }  // bytes read so far

  ssize_t write(const char *ptr, size_t size) override {
    if (!wait_for(c_.fd, POLLOUT, timeout_)) return -1;
    return ::send(c_.fd, ptr, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string &ip, int &port) const override {
    ip_and_port(c_.fd, true, ip, port);
  }
  void get_local_ip_and_port(std::string &ip, int &port) const override {
    ip_and_port(c_.fd, false, ip, port);
  }
  socket_t socket() const override { return c_.fd; }

 private:
  Connection &c_;
  std::chrono::milliseconds timeout_;
  std::size_t consumed_ = 0;
};

}  // namespace

class Server::Impl final : public httplib::Server {
 public:
  Impl(const ListenAddress &address, Limits limits);
  ~Impl() override { stop(std::chrono::milliseconds(0)); }

  void start(const char *thread_name);
  void stop(std::chrono::milliseconds finish);
  const ListenAddress &address() const { return address_; }

 private:
  // cpp-httplib's accept loop calls this for each accepted connection (a
  // private virtual of httplib::Server, overridden so that the connection
  // joins the waiting room instead of occupying a pool thread).
  bool process_and_close_socket(socket_t sock) override;

  // --- the waiting room's thread ---
  void wait_loop();
  void take_inbox();
  void admit(Connection *c, Clock::time_point now);
  void read_head(Connection *c);
  void watch(Connection *c, Clock::time_point deadline);
  void unwatch(Connection *c);
  void expire(Clock::time_point now);
  int next_wait_ms(Clock::time_point now) const;
  void close_everything_waiting();

  // --- pool threads ---
  void serve(Connection *c);
  void give_back(Connection *c);

  // --- any thread ---
  void close_connection(Connection *c);
  void close_locked(Connection *c);
  void wake();

  ListenAddress address_;
  Limits limits_;
  std::string thread_name_;
  UniqueFd epoll_;
  UniqueFd wake_fd_;  // an eventfd in the epoll set: new connections, stop()
  std::atomic<bool> stopping_{false};
  std::atomic<int> serving_{0};  // requests being answered (serve() running)
  bool started_ = false;
  std::thread accept_thread_;
  std::thread wait_thread_;
  std::unique_ptr<httplib::ThreadPool> pool_;

  std::mutex mutex_;  // guards the two below
  std::unordered_map<Connection *, std::unique_ptr<Connection>> connections_;
  std::vector<Connection *> inbox_;  // new, or back from a pool thread

  std::multimap<Clock::time_point, Connection *> deadlines_;  // the waiting room's
};

Server::Impl::Impl(const ListenAddress &address, Limits limits)
    : address_(address), limits_(limits) {
  limits_.max_connections = connection_cap(limits_.max_connections);
  limits_.threads = std::max<std::size_t>(limits_.threads, 1);
  limits_.keep_alive_requests = std::max<std::size_t>(limits_.keep_alive_requests, 1);

  UniqueFd listener(::socket(address_.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  if (listener.get() < 0 ||
      ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(listener.get(), reinterpret_cast<const sockaddr *>(&address_.addr), address_.len) !=
          0 ||
      ::listen(listener.get(), SOMAXCONN) != 0) {
    throw ConfigError(address_.name + ": cannot listen: " + std::strerror(errno));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr *>(&bound), &len);
  address_.port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);

  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up, not a connection
  if (epoll_.get() < 0 || wake_fd_.get() < 0 ||
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), address_.name + ": epoll");
  }

  svr_sock_ = listener.release();  // cpp-httplib's accept loop owns it from here
  new_task_queue = [] { return new InlineQueue; };
  // What cpp-httplib's responses advertise (Keep-Alive: timeout=N, max=N).
  set_keep_alive_max_count(limits_.keep_alive_requests);
  set_keep_alive_timeout(
      std::chrono::duration_cast<std::chrono::seconds>(limits_.head_timeout).count());
}

void Server::Impl::start(const char *thread_name) {
  thread_name_ = thread_name;
  pool_ = std::make_unique<httplib::ThreadPool>(limits_.threads);
  wait_thread_ = std::thread([this] {
    name_this_thread(thread_name_);
    wait_loop();
  });
  accept_thread_ = std::thread([this] {
    name_this_thread(thread_name_);
    listen_after_bind();  // returns once the listener is shut down
  });
  started_ = true;
}

// The order matters: no new connection (the accept loop ends), then every
// read or write in progress fails at once (shutdown), then the waiting room
// closes what waits, then the pool closes what it served.
void Server::Impl::stop(std::chrono::milliseconds finish) {
  if (stopping_.exchange(true)) return;
  if (!started_) {
    ::close(svr_sock_);
    return;
  }
  ::shutdown(svr_sock_, SHUT_RDWR);  // accept() fails; cpp-httplib closes the listener
  accept_thread_.join();
  // Answers being written may finish (an RPC that ended the service must
  // still reach its caller); nothing new starts: serve() sees stopping_.
  const auto deadline = Clock::now() + finish;
  while (serving_.load() > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    std::lock_guard lock(mutex_);
    for (const auto &[c, owned] : connections_) ::shutdown(c->fd, SHUT_RDWR);
  }
  wake();
  wait_thread_.join();
  pool_->shutdown();  // runs what is queued (each sees stopping_ and closes), joins
}

bool Server::Impl::process_and_close_socket(socket_t sock) {
  ::fcntl(sock, F_SETFD, FD_CLOEXEC);  // cpp-httplib's accept() leaves it inheritable
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(sock);
      return false;
    }
    auto owned = std::make_unique<Connection>();
    owned->fd = sock;
    inbox_.push_back(owned.get());
    connections_.emplace(owned.get(), std::move(owned));
  }
  wake();
  return true;
}

void Server::Impl::wake() {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof one);
}

void Server::Impl::wait_loop() {
  epoll_event events[kEventsPerWait];
  while (!stopping_) {
    take_inbox();
    const int n = ::epoll_wait(epoll_.get(), events, kEventsPerWait, next_wait_ms(Clock::now()));
    for (int i = 0; i < n; i++) {
      auto *c = static_cast<Connection *>(events[i].data.ptr);
      if (c) {
        read_head(c);
      } else {
        std::uint64_t count;
        (void)!::read(wake_fd_.get(), &count, sizeof count);
      }
    }
    expire(Clock::now());
  }
  close_everything_waiting();
}

// New connections, and those back from a pool thread. Over the cap, the
// waiting connection closest to its timeout makes room.
void Server::Impl::take_inbox() {
  std::vector<Connection *> arrived;
  std::size_t open;
  {
    std::lock_guard lock(mutex_);
    arrived.swap(inbox_);
    open = connections_.size();
  }
  const auto now = Clock::now();
  for (auto *c : arrived) admit(c, now);
  for (; open > limits_.max_connections && !deadlines_.empty(); open--)
    close_connection(deadlines_.begin()->second);
}

// A connection whose next request head is already buffered (pipelining)
// goes straight to the pool; any other waits for its bytes.
void Server::Impl::admit(Connection *c, Clock::time_point now) {
  if (c->head_complete()) {
    pool_->enqueue([this, c] { serve(c); });
  } else {
    watch(c, now + limits_.head_timeout);
  }
}

void Server::Impl::read_head(Connection *c) {
  char chunk[4096];
  while (true) {
    const auto room = limits_.max_head_bytes + 1 - std::min(c->unread(), limits_.max_head_bytes);
    const auto n = ::recv(c->fd, chunk, std::min(sizeof chunk, room), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return close_connection(c);  // the client left, or an error
    c->buffer.append(chunk, static_cast<std::size_t>(n));
    if (c->head_complete()) {
      unwatch(c);
      pool_->enqueue([this, c] { serve(c); });
      return;
    }
    if (c->unread() > limits_.max_head_bytes) {
      (void)!::send(c->fd, kHeadTooLarge.data(), kHeadTooLarge.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      return close_connection(c);
    }
  }
}

void Server::Impl::watch(Connection *c, Clock::time_point deadline) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = c;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd, &ev) != 0) return close_connection(c);
  c->deadline = deadlines_.emplace(deadline, c);
  c->watched = true;
}

void Server::Impl::unwatch(Connection *c) {
  if (!c->watched) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c->fd, nullptr);
  deadlines_.erase(c->deadline);
  c->watched = false;
}

// Closed without an answer, as a server does with an idle keep-alive
// connection: the client sent no complete request in time.
void Server::Impl::expire(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now)
    close_connection(deadlines_.begin()->second);
}

int Server::Impl::next_wait_ms(Clock::time_point now) const {
  return deadlines_.empty() ? -1 : millis_until(deadlines_.begin()->first, now);
}

void Server::Impl::close_everything_waiting() {
  while (!deadlines_.empty()) close_connection(deadlines_.begin()->second);
  std::lock_guard lock(mutex_);
  for (auto *c : inbox_) close_locked(c);
  inbox_.clear();
}

void Server::Impl::serve(Connection *c) {
  thread_local bool named = false;
  if (!std::exchange(named, true)) name_this_thread(thread_name_);
  if (stopping_) return close_connection(c);
  ++serving_;
  struct Served {
    std::atomic<int> &n;
    ~Served() { --n; }
  } served{serving_};
  const auto head = c->next_head();
  const long long body = declared_body(head);
  const std::size_t request_bytes = head.size() + static_cast<std::size_t>(std::max(body, 0LL));
  ConnectionStream stream(*c, limits_.io_timeout);
  // A chunked body cannot be told from the next request here, so the
  // connection closes after it: say so ("Connection: close"), or a client
  // reusing it (Node's keep-alive agent) sees its next request hang up.
  const bool last = ++c->served >= limits_.keep_alive_requests || body < 0;
  bool client_closes = false;
  const bool ok = process_request(stream, last, client_closes, nullptr);
  // A body the handler left unread would be taken for the next request.
  const bool body_left = body < 0 || stream.consumed() < request_bytes;
  if (!ok || client_closes || last || body_left) return close_connection(c);
  c->drop_read();
  give_back(c);
}

void Server::Impl::give_back(Connection *c) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return close_locked(c);
    inbox_.push_back(c);
  }
  wake();
}

void Server::Impl::close_connection(Connection *c) {
  unwatch(c);
  std::lock_guard lock(mutex_);
  close_locked(c);
}

void Server::Impl::close_locked(Connection *c) {
  ::close(c->fd);
  connections_.erase(c);
}

Server::Server(const ListenAddress &address, Limits limits)
    : impl_(std::make_unique<Impl>(address, limits)) {}

Server::~Server() = default;

httplib::Server &Server::routes() {
  return *impl_;
}

void Server::start(const char *thread_name) {
  impl_->start(thread_name);
}

void Server::stop(std::chrono::milliseconds finish) {
  impl_->stop(finish);
}

const ListenAddress &Server::address() const {
  return impl_->address();
}

}  // namespace dlhost::http
