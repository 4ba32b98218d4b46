// Worker mode on a Redis Stream; see redis_queue.hpp for the design.
#include "dlhost/host/redis_queue.hpp"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "dlhost/host/redis_coordinator.hpp"

namespace dlhost {
namespace {

constexpr const char *kGroup = "workers";
constexpr std::size_t kEnqueueBatch = 1000;
constexpr auto kClaimEvery = std::chrono::seconds(1);
constexpr const char *kBlockMs = "1000";  // how long XREADGROUP waits for news

using Commands = std::vector<RedisConnection::Command>;

std::string entry_line(const ManifestEntry &e) {
  nlohmann::json j{{"url", e.url}, {"path", e.path}, {"group", e.group}};
  if (!e.sha256.empty()) j["sha256"] = e.sha256;
  if (e.size >= 0) j["size"] = e.size;
  return j.dump();
}

std::string consumer_name() {
  return this_host_name() + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::random_device{}() % 100000);
}

std::string reply_text(const redisReply *r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
               r->type == REDIS_REPLY_ERROR)
             ? std::string(r->str, r->len)
             : std::string();
}

// Creates the group at the start of the stream (so entries added before a
// worker joins are delivered); "already exists" is fine.
void ensure_group(RedisConnection &redis, const std::string &queue) {
  const auto r = redis.command({"XGROUP", "CREATE", queue, kGroup, "0", "MKSTREAM"});
  if (r->type == REDIS_REPLY_ERROR && reply_text(r.get()).rfind("BUSYGROUP", 0) != 0)
    redis.check(r, "XGROUP CREATE");
}

}  // namespace

bool job_queue_exists(RedisConnection &redis, const std::string &job) {
  const auto r = redis.command({"EXISTS", redis_job_prefix(job) + "queue"});
  redis.check(r, "EXISTS");
  return r->type == REDIS_REPLY_INTEGER && r->integer == 1;
}

EnqueueResult enqueue_manifest(RedisConnection &redis, const std::string &job,
                               const ManifestSource &manifest,
                               const std::vector<std::uint64_t> &duplicate_lines) {
  const auto queue = redis_job_prefix(job) + "queue";
  const auto meta = redis_job_prefix(job) + "meta";
  EnqueueResult result;
  const auto state = redis.command({"HMGET", meta, "sealed", "enqueued"});
  redis.check(state, "HMGET meta");
  if (reply_text(state->element[0]) == "1") {
    result.already_sealed = true;
    // Not std::stoull("0" + text): GCC 12 at -O3 reports a false -Werror=restrict there.
    const auto enqueued = reply_text(state->element[1]);
    result.enqueued = enqueued.empty() ? 0 : std::stoull(enqueued);
    return result;
  }
  ensure_group(redis, queue);
  auto in = manifest.open_stream();
  ManifestReader reader(*in, manifest.display_name());
  ManifestEntry entry;
  Commands batch;
  const auto flush = [&] {
    if (batch.empty()) return;
    batch.push_back({"HINCRBY", meta, "enqueued", std::to_string(batch.size())});
    for (const auto &r : redis.pipeline(batch)) redis.check(r, "XADD");
    result.added += batch.size() - 1;
    batch.clear();
  };
  auto next_duplicate = duplicate_lines.begin();
  while (reader.next(entry)) {
    const bool duplicate = next_duplicate != duplicate_lines.end() && *next_duplicate == entry.line;
    if (duplicate) ++next_duplicate;
    RedisConnection::Command xadd{
        "XADD", queue, "*", "e", entry_line(entry), "l", std::to_string(entry.line)};
    if (duplicate) {
      xadd.push_back("d");
      xadd.push_back("1");
    }
    batch.push_back(std::move(xadd));
    if (batch.size() >= kEnqueueBatch) flush();
  }
  flush();
  redis.check(redis.command({"HSET", meta, "sealed", "1", "manifest", manifest.display_name()}),
              "HSET meta");
  result.enqueued = result.added;
  return result;
}

RedisStreamSource::RedisStreamSource(const RedisAddress &address, std::string job,
                                     std::chrono::milliseconds claim_idle)
    : redis_(address),
      job_(std::move(job)),
      queue_(redis_job_prefix(job_) + "queue"),
      meta_(redis_job_prefix(job_) + "meta"),
      consumer_(consumer_name()),
      claim_idle_(claim_idle) {
  ensure_group(redis_, queue_);
}

bool RedisStreamSource::next_batch(std::size_t max, std::vector<ManifestEntry> &out) {
  const auto before = out.size();
  if (std::chrono::steady_clock::now() - last_claim_ >= kClaimEvery) {
    claim_idle_entries(max, out);
    last_claim_ = std::chrono::steady_clock::now();
  }
  if (out.size() < before + max) read_new_entries(max - (out.size() - before), out);
  if (out.size() > before) return true;
  return !job_is_over();
}

// Entries delivered to some worker and not acknowledged for claim_idle: that
// worker is presumably dead. Takes them over.
void RedisStreamSource::claim_idle_entries(std::size_t max, std::vector<ManifestEntry> &out) {
  const auto r =
      redis_.command({"XAUTOCLAIM", queue_, kGroup, consumer_, std::to_string(claim_idle_.count()),
                      "0-0", "COUNT", std::to_string(max)});
  redis_.check(r, "XAUTOCLAIM");
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) return;
  const auto *entries = r->element[1];
  for (std::size_t i = 0; i < entries->elements; ++i) add_entry(entries->element[i], out);
}

void RedisStreamSource::read_new_entries(std::size_t max, std::vector<ManifestEntry> &out) {
  const auto r = redis_.command({"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT",
                                 std::to_string(max), "BLOCK", kBlockMs, "STREAMS", queue_, ">"});
  redis_.check(r, "XREADGROUP");
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return;  // nil: nothing new
  const auto *stream = r->element[0];
  const auto *entries = stream->element[1];
  for (std::size_t i = 0; i < entries->elements; ++i) add_entry(entries->element[i], out);
}

// [id, [field, value, ...]]; a nil body is an entry trimmed from the stream.
void RedisStreamSource::add_entry(const redisReply *entry, std::vector<ManifestEntry> &out) const {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2) return;
  const std::string id = reply_text(entry->element[0]);
  const auto *fields = entry->element[1];
  if (fields->type != REDIS_REPLY_ARRAY) return;
  std::string text;
  std::uint64_t line_number = 0;
  bool duplicate = false;
  for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
    const auto name = reply_text(fields->element[f]);
    const auto value = reply_text(fields->element[f + 1]);
    if (name == "e") text = value;
    if (name == "l") std::from_chars(value.data(), value.data() + value.size(), line_number);
    if (name == "d") duplicate = value == "1";
  }
  if (text.empty()) return;
  // Checked again as a manifest line: a stream is input like any other.
  std::istringstream line(text);
  ManifestReader reader(line, "redis stream " + queue_ + " entry " + id);
  ManifestEntry e;
  if (!reader.next(e)) return;
  e.receipt = id;
  e.line = line_number;  // as enqueued (0 for an entry of an older enqueue)
  e.duplicate = duplicate;
  duplicates_ += duplicate ? 1 : 0;
  out.push_back(std::move(e));
}

bool RedisStreamSource::job_is_over() {
  const auto replies = redis_.pipeline({{"HGET", meta_, "sealed"}, {"XPENDING", queue_, kGroup}});
  redis_.check(replies[0], "HGET meta");
  redis_.check(replies[1], "XPENDING");
  const bool sealed = reply_text(replies[0].get()) == "1";
  const auto *pending = replies[1].get();
  const bool none_pending = pending->type == REDIS_REPLY_ARRAY && pending->elements > 0 &&
                            pending->element[0]->type == REDIS_REPLY_INTEGER &&
                            pending->element[0]->integer == 0;
  return sealed && none_pending;
}

void RedisStreamSource::acknowledge(std::span<const std::string> receipts) {
  RedisConnection::Command ack{"XACK", queue_, kGroup};
  ack.insert(ack.end(), receipts.begin(), receipts.end());
  redis_.check(redis_.command(ack), "XACK");
}

}  // namespace dlhost
