#include "store/etcd/etcd_store.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "common/quote.h"
#include "store/etcd/etcd_codec.h"
#include "store/etcd/etcd_gateway.h"
#include "store/etcd/event_ring.h"

namespace overmesh::store {
namespace {

using etcd::GatewayAnswer;
using etcd::GrpcCode;
using etcd::Resend;
using Steady = std::chrono::steady_clock;

// The most events one watch() answer carries (a revision is never split).
constexpr std::size_t kMaxEtcdWatchEvents = 10000;
// Pause between two attempts to reopen the mirror's stream, doubled up to the maximum.
constexpr std::chrono::milliseconds kMirrorRetryMin{100};
constexpr std::chrono::milliseconds kMirrorRetryMax{2000};

// Splits a byte stream into lines, bounded: a line over kMaxEtcdAnswerBytes is an error.
class EtcdLineSplitter {
 public:
  // Appends bytes; calls onLine(line) for each complete line. False when a line is too
  // long or onLine returned false (the stream must stop).
  template <typename OnLine>
  bool feed(std::string_view bytes, OnLine&& onLine) {
    pending_.append(bytes);
    std::size_t start = 0;
    while (true) {
      std::size_t newline = pending_.find('\n', start);
      if (newline == std::string::npos) {
        break;
      }
      std::string_view line(pending_.data() + start, newline - start);
      start = newline + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) {
        continue;
      }
      if (!onLine(line)) {
        pending_.erase(0, start);
        return false;
      }
    }
    pending_.erase(0, start);
    if (pending_.size() > etcd::kMaxEtcdAnswerBytes) {
      tooLong_ = true;
      return false;
    }
    return true;
  }
  bool tooLong() const { return tooLong_; }

 private:
  std::string pending_;
  bool tooLong_ = false;
};

Error closedError() {
  return Error{ErrorKind::Unavailable, "etcd store: closed (the manager is shutting down)"};
}

Error compactedError(const std::string& prefix, Revision from, Revision compactRevision) {
  return Error{ErrorKind::Compacted,
               fmt::format("watch {} from revision {}: history before revision {} was compacted "
                           "in etcd; relist (range) and watch from the revision it returns + 1",
                           quote(prefix), from, compactRevision)};
}

// An error answer of etcd as a store error: the gRPC code chooses the kind.
Error answerError(const GatewayAnswer& answer, std::string_view path) {
  etcd::GatewayError error = etcd::decodeGatewayError(answer.body);
  ErrorKind kind = ErrorKind::Unavailable;
  switch (static_cast<GrpcCode>(error.code)) {
    case GrpcCode::InvalidArgument:
    case GrpcCode::OutOfRange:
      kind = ErrorKind::InvalidArgument;
      break;
    case GrpcCode::NotFound:
      kind = ErrorKind::NotFound;
      break;
    case GrpcCode::FailedPrecondition:
      kind = ErrorKind::FailedPrecondition;
      break;
    default:
      break;
  }
  return Error{kind, fmt::format("etcd {} {}: {} (HTTP {}, gRPC code {})", answer.endpoint, path,
                                 error.message, answer.status, error.code)};
}

Error malformedError(const GatewayAnswer& answer, std::string_view path, const Error& why) {
  return Error{ErrorKind::Unavailable, fmt::format("etcd {} {}: a malformed answer: {}",
                                                   answer.endpoint, path, why.message)};
}

// The etcd key range of a store prefix: "" = every key.
std::pair<std::string, std::string> etcdPrefixRange(const std::string& prefix) {
  if (prefix.empty()) {
    return {etcd::kAllKeys, etcd::kAllKeys};
  }
  std::string end = prefixRangeEnd(prefix);
  return {prefix, end.empty() ? etcd::kAllKeys : end};
}

}  // namespace

struct EtcdStore::Impl {
  explicit Impl(EtcdStoreOptions opts)
      : options(std::move(opts)),
        gateway(etcd::GatewayOptions{options.endpoints, options.caFile, options.certFile,
                                     options.keyFile, options.requestTimeout}),
        ring(options.mirrorEvents, options.mirrorBytes, 0) {}

  // Sends a request; Unavailable when closed or no endpoint answered.
  Result<GatewayAnswer> call(std::string_view path, const std::string& body, Resend resend) {
    if (closed.load()) {
      return std::unexpected(closedError());
    }
    return gateway.post(path, body, resend);
  }

  // Records a revision etcd reported to a caller: watch() answers at least up to it.
  void noteRevision(Revision revision) {
    std::lock_guard lock(mu);
    latestSeen = std::max(latestSeen, revision);
  }

  Result<Revision> readRevision() {
    auto answer =
        call("/v3/kv/range", etcd::encodeRangeRequest(etcd::kAllKeys, "", true), Resend::Always);
    if (!answer) {
      return std::unexpected(answer.error());
    }
    if (answer->status != 200) {
      return std::unexpected(answerError(*answer, "/v3/kv/range"));
    }
    auto revision = etcd::decodeHeaderRevision(answer->body);
    if (!revision) {
      return std::unexpected(malformedError(*answer, "/v3/kv/range", revision.error()));
    }
    noteRevision(*revision);
    return *revision;
  }

  void mirrorLoop();
  std::string runMirrorStream(std::size_t endpoint);
  Result<WatchResult> watchHistory(const std::string& prefix, Revision from);
  Result<WatchResult> watchHistoryAt(std::size_t endpoint, const std::string& prefix, Revision from,
                                     std::string& problem);

  const EtcdStoreOptions options;
  etcd::Gateway gateway;
  std::atomic<bool> closed{false};
  // The mirror thread's multi handle, woken by close(). Set before the thread starts.
  CURLM* multi = nullptr;
  std::thread mirror;

  // mu guards the fields below; watches wait on changed with it released.
  std::mutex mu;
  std::condition_variable changed;  // notified on new events and on close()
  etcd::EventRing ring;
  // The newest revision etcd reported to any call of this store.
  Revision latestSeen = 0;
  // The compaction point this store knows of (its own compact() calls, and compact
  // revisions etcd named in watch answers). Watches from before it answer Compacted.
  Revision compactKnown = 0;
  // Whether the mirror's stream is open (etcd confirmed it with "created"), and since when
  // it is not, with why: a watch answers Unavailable once the stream has been down for a
  // request timeout, so a watcher moves to another manager instead of waiting on a store
  // that cannot see changes.
  bool streamUp = false;
  Steady::time_point streamDownSince = Steady::now();
  std::string streamProblem = "the watch stream is not open yet";

  // Requires mu held. The error a watch answers while the stream is down, if it is.
  std::optional<Error> streamDownErrorLocked() const {
    if (streamUp || Steady::now() - streamDownSince < options.requestTimeout) {
      return std::nullopt;
    }
    return Error{ErrorKind::Unavailable,
                 fmt::format("etcd store: the watch stream has been down for {} ms ({})",
                             std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() -
                                                                                   streamDownSince)
                                 .count(),
                             streamProblem)};
  }
};

// Thread: the watch mirror. Keeps one etcd watch stream over the whole key space open,
// resumed at the ring's last revision + 1 after any break (on the next endpoint), and
// appends its events to the ring. Ends when close() sets `closed`.
void EtcdStore::Impl::mirrorLoop() {
  std::size_t endpoint = gateway.preferred();
  std::chrono::milliseconds pause = kMirrorRetryMin;
  std::string lastProblem;
  while (!closed.load()) {
    auto started = Steady::now();
    std::string problem = runMirrorStream(endpoint);
    if (closed.load()) {
      break;
    }
    {
      std::lock_guard lock(mu);
      if (streamUp) {
        streamUp = false;
        streamDownSince = Steady::now();
      }
      streamProblem = fmt::format("{}: {}", gateway.endpoint(endpoint), problem);
      changed.notify_all();
    }
    if (problem != lastProblem) {
      spdlog::warn("etcd store: the watch stream on {} ended ({}); reopening it",
                   gateway.endpoint(endpoint), problem);
      lastProblem = problem;
    }
    if (Steady::now() - started > kMirrorRetryMax) {
      pause = kMirrorRetryMin;  // it ran a while: a fresh break, retry soon
    }
    endpoint = (endpoint + 1) % gateway.endpointCount();
    std::unique_lock lock(mu);
    changed.wait_for(lock, pause, [&] { return closed.load(); });
    pause = std::min(pause * 2, kMirrorRetryMax);
  }
}

// Runs one watch stream until it breaks, stalls or the store closes; returns why it ended.
std::string EtcdStore::Impl::runMirrorStream(std::size_t endpoint) {
  Revision resume = 0;
  {
    std::lock_guard lock(mu);
    resume = ring.last() + 1;
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return "curl_easy_init failed";
  }
  struct StreamState {
    Impl* impl;
    EtcdLineSplitter lines;
    std::string problem;
  } state{this, {}, {}};
  auto onBytes = +[](char* data, std::size_t size, std::size_t count, void* user) -> std::size_t {
    auto* s = static_cast<StreamState*>(user);
    bool ok = s->lines.feed(std::string_view(data, size * count), [&](std::string_view line) {
      auto message = etcd::decodeWatchLine(line);
      if (!message) {
        s->problem = "a malformed watch message: " + message.error().message;
        return false;
      }
      if (message->streamError) {
        s->problem = fmt::format("etcd ended the stream: {}", message->error.message);
        return false;
      }
      std::lock_guard lock(s->impl->mu);
      if (message->canceled) {
        if (message->compactRevision > 0) {
          // The resume point was compacted: the gap cannot be filled, so the ring starts
          // over at the compaction point and older watches answer Compacted.
          s->impl->compactKnown = std::max(s->impl->compactKnown, message->compactRevision);
          s->impl->ring.reset(message->compactRevision - 1);
          s->problem =
              fmt::format("resume point compacted at revision {}", message->compactRevision);
        } else {
          s->problem = fmt::format("etcd canceled the watch: {}", message->cancelReason);
        }
        s->impl->changed.notify_all();
        return false;
      }
      if (message->created) {
        s->impl->streamUp = true;
      }
      s->impl->latestSeen = std::max(s->impl->latestSeen, message->headerRevision);
      if (!message->events.empty()) {
        s->impl->ring.append(message->events);
        s->impl->changed.notify_all();
      }
      return true;
    });
    if (!ok && s->lines.tooLong()) {
      s->problem = fmt::format("a watch message over {} bytes", etcd::kMaxEtcdAnswerBytes);
    }
    return ok ? size * count : 0;
  };
  std::string url = gateway.url(endpoint, "/v3/watch");
  std::string body = etcd::encodeWatchCreate(etcd::kAllKeys, etcd::kAllKeys, resume);
  gateway.configureHandle(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBytes);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  // etcd cancels a watch whose member lost its leader (instead of going silent).
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Grpc-Metadata-hasleader: true");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_multi_add_handle(multi, curl);

  std::string why;
  // A stream that lags behind revisions etcd already reported elsewhere for a whole
  // request timeout is presumed dead (a partitioned member answers nothing).
  bool lagging = false;
  Steady::time_point laggingSince = Steady::now();
  while (why.empty()) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* done = curl_multi_info_read(multi, &queued)) {
      if (done->msg == CURLMSG_DONE) {
        CURLcode code = done->data.result;
        why = !state.problem.empty() ? state.problem
              : code == CURLE_OK     ? "etcd closed the stream"
                                     : curl_easy_strerror(code);
      }
    }
    if (!why.empty() || closed.load()) {
      break;
    }
    if (running == 0) {
      why = state.problem.empty() ? "the stream ended" : state.problem;
      break;
    }
    {
      std::lock_guard lock(mu);
      if (latestSeen > ring.last()) {
        if (!lagging) {
          lagging = true;
          laggingSince = Steady::now();
        } else if (Steady::now() - laggingSince > options.requestTimeout) {
          why = fmt::format("no event for revision {} within {} ms", ring.last() + 1,
                            options.requestTimeout.count());
        }
      } else {
        lagging = false;
      }
    }
    curl_multi_poll(multi, nullptr, 0, 200, nullptr);
  }
  curl_multi_remove_handle(multi, curl);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return why.empty() ? "closed" : why;
}

// Reads etcd's own history from `from` with a one-shot watch over the whole key space,
// up to the revision etcd was at when the watch started (or kMaxEtcdWatchEvents events).
Result<WatchResult> EtcdStore::Impl::watchHistory(const std::string& prefix, Revision from) {
  std::vector<std::string> tried;
  std::size_t start = gateway.preferred();
  for (std::size_t step = 0; step < gateway.endpointCount(); ++step) {
    std::size_t endpoint = (start + step) % gateway.endpointCount();
    std::string problem;
    auto result = watchHistoryAt(endpoint, prefix, from, problem);
    if (result || result.error().kind == ErrorKind::Compacted) {
      return result;
    }
    tried.push_back(fmt::format("{} ({})", gateway.endpoint(endpoint), result.error().message));
  }
  return errorf(ErrorKind::Unavailable, "etcd /v3/watch from revision {}: no endpoint answered: {}",
                from, fmt::join(tried, ", "));
}

Result<WatchResult> EtcdStore::Impl::watchHistoryAt(std::size_t endpoint, const std::string& prefix,
                                                    Revision from, std::string& problem) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return errorf(ErrorKind::Internal, "curl_easy_init failed");
  }
  struct HistoryState {
    EtcdLineSplitter lines;
    std::string problem;
    Revision from = 0;
    Revision upTo = 0;  // etcd's revision when the watch was created
    Revision compactRevision = 0;
    bool done = false;
    std::vector<Event> events;
  } state;
  state.from = from;
  auto onBytes = +[](char* data, std::size_t size, std::size_t count, void* user) -> std::size_t {
    auto* s = static_cast<HistoryState*>(user);
    bool ok = s->lines.feed(std::string_view(data, size * count), [&](std::string_view line) {
      auto message = etcd::decodeWatchLine(line);
      if (!message) {
        s->problem = "a malformed watch message: " + message.error().message;
        return false;
      }
      if (message->streamError) {
        s->problem = message->error.message;
        return false;
      }
      if (message->canceled) {
        s->compactRevision = message->compactRevision;
        s->problem = message->compactRevision > 0 ? "compacted" : message->cancelReason;
        if (s->problem.empty()) {
          s->problem = "etcd canceled the watch";
        }
        return false;
      }
      if (message->created) {
        s->upTo = message->headerRevision;
      }
      s->events.insert(s->events.end(), message->events.begin(), message->events.end());
      if (!s->events.empty() &&
          (s->events.back().kv.modRevision >= s->upTo || s->events.size() >= kMaxEtcdWatchEvents)) {
        s->done = true;
        return false;
      }
      if (message->created && s->upTo < s->from) {  // nothing to read yet
        s->done = true;
        return false;
      }
      return true;
    });
    if (!ok && s->lines.tooLong()) {
      s->problem = fmt::format("a watch message over {} bytes", etcd::kMaxEtcdAnswerBytes);
    }
    return ok ? size * count : 0;
  };
  std::string url = gateway.url(endpoint, "/v3/watch");
  std::string body = etcd::encodeWatchCreate(etcd::kAllKeys, etcd::kAllKeys, from);
  gateway.configureHandle(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.requestTimeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBytes);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);

  if (state.compactRevision > 0) {
    std::lock_guard lock(mu);
    compactKnown = std::max(compactKnown, state.compactRevision);
    return std::unexpected(compactedError(prefix, from, state.compactRevision));
  }
  if (!state.done) {
    problem = !state.problem.empty() ? state.problem
              : code != CURLE_OK     ? std::string(curl_easy_strerror(code))
                                     : "the stream ended before the history was read";
    return errorf(ErrorKind::Unavailable, "{}", problem);
  }
  WatchResult result;
  Revision last = state.events.empty() ? from - 1 : state.events.back().kv.modRevision;
  for (Event& event : state.events) {
    if (event.kv.key.starts_with(prefix)) {
      result.events.push_back(std::move(event));
    }
  }
  result.nextRevision = std::max(from, last + 1);
  noteRevision(state.upTo);
  return result;
}

EtcdStoreOptions EtcdStoreOptions::from(const StoreLocation& location) {
  EtcdStoreOptions options;
  options.endpoints = location.endpoints;
  options.caFile = location.caFile;
  options.certFile = location.certFile;
  options.keyFile = location.keyFile;
  return options;
}

Result<std::unique_ptr<EtcdStore>> EtcdStore::open(EtcdStoreOptions options) {
  if (options.endpoints.empty()) {
    return errorf(ErrorKind::InvalidArgument, "etcd store: no endpoint given");
  }
  bool anyTls = !options.caFile.empty() || !options.certFile.empty() || !options.keyFile.empty();
  bool allTls = !options.caFile.empty() && !options.certFile.empty() && !options.keyFile.empty();
  if (anyTls && !allTls) {
    return errorf(ErrorKind::InvalidArgument,
                  "etcd store: TLS needs a CA file, a certificate and a key (all three or none)");
  }
  if (options.requestTimeout <= std::chrono::milliseconds(0)) {
    return errorf(ErrorKind::InvalidArgument, "etcd store: the request timeout must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  auto status = impl->call("/v3/maintenance/status", "{}", Resend::Always);
  if (!status) {
    return std::unexpected(status.error().withContext("etcd store: open"));
  }
  if (status->status != 200) {
    return std::unexpected(
        answerError(*status, "/v3/maintenance/status").withContext("etcd store: open"));
  }
  auto revision = impl->readRevision();
  if (!revision) {
    return std::unexpected(revision.error().withContext("etcd store: open"));
  }
  impl->ring.reset(*revision);
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) {
    return errorf(ErrorKind::Internal, "etcd store: curl_multi_init failed");
  }
  Impl* raw = impl.get();
  impl->mirror = std::thread([raw] { raw->mirrorLoop(); });
  return std::unique_ptr<EtcdStore>(new EtcdStore(std::move(impl)));
}

EtcdStore::EtcdStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EtcdStore::~EtcdStore() {
  close();
  if (impl_->mirror.joinable()) {
    impl_->mirror.join();
  }
  if (impl_->multi != nullptr) {
    curl_multi_cleanup(impl_->multi);
  }
}

Result<std::optional<KeyValue>> EtcdStore::get(const std::string& key) {
  if (key.empty()) {
    return errorf(ErrorKind::InvalidArgument, "etcd store get: the key is empty");
  }
  auto answer =
      impl_->call("/v3/kv/range", etcd::encodeRangeRequest(key, "", false), Resend::Always);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status != 200) {
    return std::unexpected(answerError(*answer, "/v3/kv/range"));
  }
  auto reply = etcd::decodeRangeReply(answer->body);
  if (!reply) {
    return std::unexpected(malformedError(*answer, "/v3/kv/range", reply.error()));
  }
  impl_->noteRevision(reply->revision);
  for (KeyValue& kv : reply->kvs) {
    if (kv.key == key) {
      return std::optional<KeyValue>(std::move(kv));
    }
  }
  return std::optional<KeyValue>();
}

Result<RangeResult> EtcdStore::range(const std::string& prefix) {
  auto [key, end] = etcdPrefixRange(prefix);
  auto answer =
      impl_->call("/v3/kv/range", etcd::encodeRangeRequest(key, end, false), Resend::Always);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status != 200) {
    return std::unexpected(answerError(*answer, "/v3/kv/range"));
  }
  auto reply = etcd::decodeRangeReply(answer->body);
  if (!reply) {
    return std::unexpected(malformedError(*answer, "/v3/kv/range", reply.error()));
  }
  impl_->noteRevision(reply->revision);
  return RangeResult{std::move(reply->kvs), reply->revision};
}

Result<TxnResult> EtcdStore::txn(const Txn& txn) {
  auto body = etcd::encodeTxnRequest(txn);
  if (!body) {
    return std::unexpected(body.error());
  }
  auto answer = impl_->call("/v3/kv/txn", *body, Resend::BeforeSending);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status != 200) {
    Error error = answerError(*answer, "/v3/kv/txn");
    if (error.kind == ErrorKind::NotFound) {
      // "requested lease not found": a put on a lease that expired or never existed.
      error.kind = ErrorKind::InvalidArgument;
      error.message += "; a put names a lease that expired, was revoked or never existed";
    }
    return std::unexpected(std::move(error));
  }
  auto reply = etcd::decodeTxnReply(answer->body);
  if (!reply) {
    return std::unexpected(malformedError(*answer, "/v3/kv/txn", reply.error()));
  }
  impl_->noteRevision(reply->revision);
  return TxnResult{reply->succeeded, reply->revision};
}

Result<WatchResult> EtcdStore::watch(const std::string& prefix, Revision fromRevision,
                                     std::chrono::milliseconds wait) {
  Impl& impl = *impl_;
  std::unique_lock lock(impl.mu);
  if (impl.closed.load()) {
    return std::unexpected(closedError());
  }
  Revision from = std::max<Revision>(fromRevision, 1);
  if (from < impl.compactKnown) {
    return std::unexpected(compactedError(prefix, from, impl.compactKnown));
  }
  auto started = Steady::now();
  auto deadline = started + wait;
  // Read-your-writes: a revision this store already reported is in the answer (the mirror
  // is normally milliseconds behind; a broken stream is given one request timeout).
  Revision seen = impl.latestSeen;
  if (from <= seen) {
    impl.changed.wait_until(lock, started + impl.options.requestTimeout, [&] {
      return impl.closed.load() || impl.ring.last() >= seen || from < impl.ring.coveredFrom();
    });
  }
  while (true) {
    if (impl.closed.load()) {
      return WatchResult{{}, from};
    }
    if (auto down = impl.streamDownErrorLocked()) {
      return std::unexpected(std::move(*down));
    }
    if (from < impl.ring.coveredFrom()) {
      lock.unlock();
      return impl.watchHistory(prefix, from);
    }
    std::optional<WatchResult> answer = impl.ring.read(prefix, from, kMaxEtcdWatchEvents);
    if (!answer->events.empty() || Steady::now() >= deadline) {
      return std::move(*answer);
    }
    impl.changed.wait_until(lock, deadline);
  }
}

Result<Revision> EtcdStore::currentRevision() { return impl_->readRevision(); }

Status EtcdStore::compact(Revision revision) {
  {
    std::lock_guard lock(impl_->mu);
    if (revision <= impl_->compactKnown) {
      return {};
    }
  }
  auto answer = impl_->call("/v3/kv/compaction", etcd::encodeCompaction(revision), Resend::Always);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status != 200) {
    Error error = answerError(*answer, "/v3/kv/compaction");
    if (error.message.find("has been compacted") == std::string::npos) {
      return std::unexpected(std::move(error));  // a future revision: InvalidArgument
    }
    // Someone compacted past it already: nothing to do.
  }
  std::lock_guard lock(impl_->mu);
  impl_->compactKnown = std::max(impl_->compactKnown, revision);
  return {};
}

Result<LeaseId> EtcdStore::grantLease(std::chrono::milliseconds ttl) {
  if (ttl < std::chrono::milliseconds(1)) {
    return errorf(ErrorKind::InvalidArgument,
                  "etcd store: lease TTL {} ms: a TTL must be at least 1 ms", ttl.count());
  }
  // etcd counts whole seconds: round up, so a lease never lives shorter than asked. (etcd
  // itself raises a TTL under its minimum, 1.5 election timeouts, to that minimum.)
  std::int64_t seconds = (ttl.count() + 999) / 1000;
  auto answer =
      impl_->call("/v3/lease/grant", etcd::encodeLeaseGrant(seconds), Resend::BeforeSending);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status != 200) {
    return std::unexpected(answerError(*answer, "/v3/lease/grant"));
  }
  auto reply = etcd::decodeLeaseGrantReply(answer->body);
  if (!reply) {
    return std::unexpected(malformedError(*answer, "/v3/lease/grant", reply.error()));
  }
  if (!reply->error.empty() || reply->id == 0) {
    return errorf(ErrorKind::Unavailable, "etcd {} /v3/lease/grant: {}", answer->endpoint,
                  reply->error.empty() ? "no lease ID in the answer" : reply->error);
  }
  return reply->id;
}

Status EtcdStore::keepAlive(LeaseId lease) {
  auto answer = impl_->call("/v3/lease/keepalive", etcd::encodeLeaseId(lease), Resend::Always);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status != 200) {
    return std::unexpected(answerError(*answer, "/v3/lease/keepalive"));
  }
  auto ttl = etcd::decodeKeepAliveReply(answer->body);
  if (!ttl) {
    return std::unexpected(malformedError(*answer, "/v3/lease/keepalive", ttl.error()));
  }
  if (*ttl <= 0) {
    return errorf(ErrorKind::NotFound, "etcd lease {:x}: expired or revoked", lease);
  }
  return {};
}

Status EtcdStore::revokeLease(LeaseId lease) {
  auto answer = impl_->call("/v3/lease/revoke", etcd::encodeLeaseId(lease), Resend::BeforeSending);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status != 200) {
    Error error = answerError(*answer, "/v3/lease/revoke");
    if (error.kind == ErrorKind::NotFound) {
      error.message = fmt::format("etcd lease {:x}: expired or revoked ({})", lease, error.message);
    }
    return std::unexpected(std::move(error));
  }
  auto revision = etcd::decodeHeaderRevision(answer->body);
  if (!revision) {
    return std::unexpected(malformedError(*answer, "/v3/lease/revoke", revision.error()));
  }
  impl_->noteRevision(*revision);
  return {};
}

void EtcdStore::close() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->closed.exchange(true)) {
      return;
    }
    impl_->changed.notify_all();
  }
  if (impl_->multi != nullptr) {
    curl_multi_wakeup(impl_->multi);
  }
}

}  // namespace overmesh::store
