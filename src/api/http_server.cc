#include "api/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "api/handler_pool.h"
#include "api/percent_encoding.h"
#include "api/tls_listener.h"
#include "common/quote.h"

namespace overmesh::api {

struct HttpConnection;

struct HttpServer::Listener {
  HttpServer* server = nullptr;
  HttpServer::Engine* engine = nullptr;
  MHD_Daemon* daemon = nullptr;
  std::atomic<unsigned int> connections{0};
  // Requests begun and not completed, and among them those whose handler's answer is
  // queued but not completely sent: stop() lets them finish (see stop()).
  std::atomic<unsigned int> inFlight{0};
  std::atomic<unsigned int> sending{0};
  // listenTls: the TLS side that hands decrypted connections to `daemon`.
  std::unique_ptr<TlsListener> tls;
  // Every open connection (countConnection adds and removes them): the sweep's list.
  std::mutex connectionsMutex;
  std::set<HttpConnection*> open;  // guarded by connectionsMutex
};

// One open connection, from libmicrohttpd's STARTED notification to its CLOSED one (which
// comes before the descriptor is closed): its descriptor, its verified peer (TLS), and
// what the sweep needs to tell a client that left from one waiting for an answer.
struct HttpConnection {
  int fd = -1;
  std::shared_ptr<const PeerIdentity> identity;  // set at start, then read-only
  // Guarded by Listener::connectionsMutex:
  bool answering = false;           // its request is whole (or refused): an answer is due
  std::uint64_t progress = 0;       // calls of the access handler and completions
  bool endPending = false;          // EPOLLRDHUP came while an answer was due
  bool eofSeen = false;             // the last sweep found the client's end closed...
  std::uint64_t progressAtEof = 0;  // ...when progress was this
  std::chrono::steady_clock::time_point eofSeenAt;
};

// One request's answer and, while libmicrohttpd holds its connection suspended for it,
// the connection to resume once the answer is there. Shared by the request's state (the
// polling thread), the job on the handler pool, every HttpResponder of an async route,
// and the server's set of suspended exchanges (stop(), the sweep).
struct HttpExchange {
  std::mutex mutex;  // guards everything below but `async` and `closeAfter`
  std::condition_variable answered;
  std::optional<HttpResponse> answer;
  // Set while the connection is suspended and not yet resumed: respond() resumes it.
  MHD_Connection* suspended = nullptr;
  int fd = -1;  // the suspended connection's descriptor: ours to peek at while suspended
  bool abandoned = false;
  bool async = false;       // an async route's: the sweep looks for its client leaving
  bool closeAfter = false;  // a join connection's answer: `Connection: close`

  // The first answer wins; resumes the connection when suspended. True when taken.
  bool respond(HttpResponse response) {
    std::lock_guard lock(mutex);
    if (answer) {
      return false;
    }
    answer = std::move(response);
    if (suspended != nullptr) {
      // Thread-safe in libmicrohttpd: flags the connection and wakes its polling thread,
      // which calls the access handler again (serveRequest queues the answer then).
      MHD_resume_connection(suspended);
      suspended = nullptr;
    }
    answered.notify_all();
    return true;
  }

  // Nobody will read the answer (the server stops, the client left): says so to
  // abandoned(), and answers with `response` unless an answer is already there.
  void abandon(HttpResponse response) {
    {
      std::lock_guard lock(mutex);
      abandoned = true;
    }
    respond(std::move(response));
  }
};

// What runs requests beside libmicrohttpd's polling threads: the handler pool, the set of
// suspended exchanges, and the sweep that notices async clients that left.
struct HttpServer::Engine {
  explicit Engine(const HttpServer& owner) : server(owner) {
    endWatch = epoll_create1(EPOLL_CLOEXEC);
    wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (endWatch >= 0 && wakeFd >= 0) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.fd = wakeFd;
      epoll_ctl(endWatch, EPOLL_CTL_ADD, wakeFd, &event);
    }
  }
  ~Engine() {
    if (endWatch >= 0) {
      close(endWatch);
    }
    if (wakeFd >= 0) {
      close(wakeFd);
    }
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The route for `request` (params filled), or null: then unrouted() answers.
  const Route* match(HttpRequest& request) const { return server.match(request); }
  HttpResponse unrouted(const HttpRequest& request) const { return server.unrouted(request); }
  // Polling thread: suspends `connection` for `exchange` and registers it; false (and
  // nothing suspended) once the server is stopping.
  bool suspendFor(MHD_Connection* connection, const std::shared_ptr<HttpExchange>& exchange);
  // Polling thread: runs the route's handler on the pool; when the pool refuses (queue
  // full) the exchange gets a 503 "busy" at once.
  void runOnPool(const Route& route, HttpRequest request, std::shared_ptr<HttpExchange> exchange);
  // The exchange's connection was resumed and answered: it leaves the set.
  void forgetSuspended(const std::shared_ptr<HttpExchange>& exchange);
  // stop(): no suspension from now on, and every suspended exchange answered with a 503
  // and resumed (libmicrohttpd must not stop with a suspended connection).
  void abandonAll();
  // stop(): whether every resumed exchange was re-entered (its answer queued).
  bool noneSuspended();

  // The sweep wakes when a client ends its side of a connection (EPOLLRDHUP on its own
  // epoll set, endWatch), and every kFullSweepInterval for async exchanges and as a
  // backstop: a client that sent its last bytes and its end together is closed within
  // about kEndConfirm.
  static constexpr std::chrono::milliseconds kFullSweepInterval{1000};
  // How long a client's end must stay seen, with no progress, before the connection is
  // shut down (the polling thread may have read a whole request and not yet called us).
  static constexpr std::chrono::milliseconds kEndConfirm{20};

  const HttpServer& server;
  std::unique_ptr<HandlerPool> pool;

  std::mutex mutex;  // guards `stopping`, `suspended` and `listeners`
  bool stopping = false;
  // The listeners the sweep looks at; they outlive the sweep (stop() joins it first).
  std::vector<Listener*> listeners;
  // Exchanges whose connection is suspended (or resumed and not yet re-entered).
  std::set<std::shared_ptr<HttpExchange>> suspended;
  // The sweep's epoll set: every connection's descriptor for EPOLLRDHUP, and wakeFd
  // (an eventfd) to end the sweep. Made by the constructor; -1 if that failed (then the
  // sweep only runs every kFullSweepInterval).
  int endWatch = -1;
  int wakeFd = -1;
  // Started by the first listener (startDaemon), joined by stop(): the owner's thread.
  std::thread sweeper;

  // Thread: the sweep, until stopping (see the constants above). An async exchange whose
  // client closed its connection (EOF or an error on a peek) is abandoned, which resumes
  // its connection: libmicrohttpd does not watch a suspended connection, so without this
  // a long-poll's descriptor would stay until its handler answered. And see
  // closeDeparted().
  void sweepClosedClients();
  // libmicrohttpd 0.9.75's epoll mode is edge-triggered and takes a short read for "no
  // more to read": a client whose last bytes and end (FIN, close_notify) came together
  // (it sent half a request and closed, or closed after its answer) is never read again,
  // and its connection stays until the 120 s timeout. A connection that owes no answer
  // and whose client end stays closed for kEndConfirm with no progress is shut down
  // here; libmicrohttpd then sees the event and closes it.
  // Looks at the connections whose descriptor is in `ended` (EPOLLRDHUP), those already
  // seen ended, and with `everyConnection` all. Returns whether one awaits confirmation.
  bool closeDeparted(Listener& listener, bool everyConnection, const std::set<int>& ended);
};

namespace {

// Connections the kernel holds before the polling thread accepts them: it accepts ten
// per wake-up, and a thousand agents reconnecting at once after a manager restart should
// wait in the backlog, not be refused (the kernel caps it at net.core.somaxconn).
constexpr int kListenBacklog = 4096;

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    if (slash > start) {
      segments.push_back(path.substr(start, slash - start));
    }
    start = slash + 1;
  }
  return segments;
}

// Per-request state: libmicrohttpd calls the handler several times per request
// (headers, body chunks, end), so the body accumulates here.
struct PendingRequest {
  // The path as the client sent it, still percent-encoded: the URL libmicrohttpd hands the
  // handler is already decoded, so an escaped '/' (%2F) inside a segment would split it.
  std::string rawPath;
  bool started = false;
  // A response (413, 503) was queued before the body was read: later calls discard data.
  bool answered = false;
  // The handler's response is queued and counted in Listener::sending until completed.
  bool sending = false;
  std::string body;
  // The whole request is in and libmicrohttpd was told to wait (see serveRequest).
  bool armed = false;
  // Set once the request went to its handler (its connection suspended meanwhile).
  std::shared_ptr<HttpExchange> exchange;
};

// libmicrohttpd's URI log callback: runs once per request with the raw request target;
// its result becomes the request's state (freed in requestCompleted).
void* startRequest(void* cls, const char* uri, MHD_Connection* /*connection*/) {
  ++static_cast<HttpServer::Listener*>(cls)->inFlight;
  auto* pending = new PendingRequest();
  std::string target = uri != nullptr ? uri : "";
  pending->rawPath = target.substr(0, target.find('?'));
  return pending;
}

MHD_Result collectValue(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* values = static_cast<std::map<std::string, std::string>*>(cls);
  std::string name = key != nullptr ? key : "";
  (*values)[name] = value != nullptr ? value : "";
  return MHD_YES;
}

MHD_Result collectHeader(void* cls, MHD_ValueKind /*kind*/, const char* key, const char* value) {
  auto* values = static_cast<std::map<std::string, std::string>*>(cls);
  std::string name = key != nullptr ? key : "";
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  (*values)[name] = value != nullptr ? value : "";
  return MHD_YES;
}

std::string peerOf(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) {
    return "unix";
  }
  const sockaddr* address = info->client_addr;
  if (address->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof(in));
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    return text;
  }
  return "unix";
}

MHD_Result queue(MHD_Connection* connection, const HttpResponse& response,
                 bool closeAfter = false) {
  MHD_Response* reply = MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
  if (reply == nullptr) {
    return MHD_NO;
  }
  MHD_add_response_header(reply, "Content-Type", response.contentType.c_str());
  if (closeAfter) {
    MHD_add_response_header(reply, MHD_HTTP_HEADER_CONNECTION, "close");
  }
  MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned int>(response.status), reply);
  MHD_destroy_response(reply);
  return queued;
}

HttpResponse withStatus(HttpResponse response, int status) {
  response.status = status;
  return response;
}

HttpResponse tooLarge(const char* method, const std::string& path, std::size_t limit,
                      std::string_view size) {
  return withStatus(
      errorResponse(Error{ErrorKind::InvalidArgument,
                          fmt::format("{} {}: the request body ({}) exceeds the limit of {} "
                                      "bytes; API requests are small JSON objects",
                                      printable(method, 16), printable(path, kQuotedMax), size,
                                      limit)}),
      413);
}

// The Content-Length the client announced, when it sent a valid one.
std::optional<std::uint64_t> contentLength(MHD_Connection* connection) {
  const char* text =
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (text == nullptr) {
    return std::nullopt;
  }
  std::uint64_t length = 0;
  std::string_view view(text);
  auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), length);
  if (error != std::errc() || end != view.data() + view.size()) {
    return std::nullopt;
  }
  return length;
}

// The verified peer a TLS connection carries (countConnection attached it), or null.
const std::shared_ptr<const PeerIdentity>* identityOf(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  if (info == nullptr || info->socket_context == nullptr) {
    return nullptr;
  }
  return &static_cast<const HttpConnection*>(info->socket_context)->identity;
}

// A join connection serves one request: every answer on it says `Connection: close`,
// so that anyone who can reach the cluster port holds a connection only as long as one
// request takes (an unverified peer must not keep a slot, or pipeline answers it never
// reads).
bool onJoinConnection(const HttpServer::Listener& listener, MHD_Connection* connection) {
  if (listener.tls == nullptr) {
    return false;
  }
  const auto* identity = identityOf(connection);
  return identity != nullptr && *identity != nullptr && (*identity)->join;
}

HttpResponse stoppingResponse() {
  return errorResponse(
      Error{ErrorKind::Unavailable, "overmeshd is stopping; try again once it is back"});
}

// The access handler called again for a request whose connection was resumed: its answer
// is there (respond() resumes only after storing it), and is queued.
MHD_Result answerResumed(HttpServer::Listener& listener, MHD_Connection* connection,
                         PendingRequest& pending) {
  std::shared_ptr<HttpExchange> exchange = pending.exchange;
  std::optional<HttpResponse> answer;
  {
    std::lock_guard lock(exchange->mutex);
    // Moved out: the exchange stays answered (a later respond() is ignored all the same).
    answer = std::move(exchange->answer);
  }
  listener.engine->forgetSuspended(exchange);
  if (!answer) {
    // Resumed without an answer: not something this server does; drop the connection
    // rather than leave it hanging.
    spdlog::error("http server: a request was resumed without an answer; closing it");
    return MHD_NO;
  }
  pending.sending = true;
  ++listener.sending;
  return queue(connection, *answer, exchange->closeAfter);
}

void noteProgress(HttpServer::Listener& listener, MHD_Connection* connection, bool answering);
void runRoute(const HttpServer::Route& route, const HttpRequest& request,
              const std::shared_ptr<HttpExchange>& exchange);

MHD_Result serveRequest(HttpServer::Listener& listener, MHD_Connection* connection,
                        const char* url, const char* method, const char* uploadData,
                        size_t* uploadDataSize, void** connectionState) {
  const HttpServer& server = *listener.server;
  const HttpServerLimits& limits = server.limits();
  if (*connectionState == nullptr) {
    *connectionState = startRequest(nullptr, url, connection);
  }
  auto* pending = static_cast<PendingRequest*>(*connectionState);
  // Every call after the first whole one is an answer's way out (or its wait).
  noteProgress(listener, connection, pending->armed || pending->answered);
  if (!pending->started) {
    pending->started = true;
    if (listener.connections.load() > limits.maxConnections) {
      pending->answered = true;
      noteProgress(listener, connection, true);
      return queue(connection,
                   errorResponse(Error{ErrorKind::Unavailable,
                                       fmt::format("overmeshd serves at most {} connections at "
                                                   "once on this listener; try again later",
                                                   limits.maxConnections)}),
                   onJoinConnection(listener, connection));
    }
    // Refuse an announced oversized body before reading any of it.
    if (auto length = contentLength(connection); length && *length > limits.maxBodyBytes) {
      pending->answered = true;
      noteProgress(listener, connection, true);
      return queue(
          connection,
          tooLarge(method, pending->rawPath, limits.maxBodyBytes, fmt::format("{} bytes", *length)),
          onJoinConnection(listener, connection));
    }
    return MHD_YES;
  }
  if (*uploadDataSize != 0) {
    std::size_t size = *uploadDataSize;
    *uploadDataSize = 0;
    if (pending->answered) {
      return MHD_YES;
    }
    if (pending->body.size() + size > limits.maxBodyBytes) {
      // A chunked body (or one longer than announced) passed the cap: drop what was
      // read and answer now; if libmicrohttpd cannot answer mid-body, close the connection.
      std::string().swap(pending->body);
      pending->answered = true;
      noteProgress(listener, connection, true);
      return queue(connection,
                   tooLarge(method, pending->rawPath, limits.maxBodyBytes, "more than the limit"),
                   onJoinConnection(listener, connection));
    }
    pending->body.append(uploadData, size);
    return MHD_YES;
  }
  if (pending->answered) {
    return MHD_YES;
  }

  if (pending->exchange != nullptr) {
    return answerResumed(listener, connection, *pending);
  }
  if (!pending->armed) {
    // The first call with the whole request returns with no answer, so that
    // libmicrohttpd marks the connection as waiting for us (it then calls again in its
    // next loop, without reading). Suspended while it still meant to read, the
    // connection would be read again when resumed, and a client that half-closed after
    // its request (shutdown(SHUT_WR), as HTTP allows) would be closed by libmicrohttpd
    // on that EOF before its answer went out (0.9.75 closes on EOF after a request).
    pending->armed = true;
    noteProgress(listener, connection, true);
    return MHD_YES;
  }

  HttpRequest request;
  request.method = method;
  request.path = pending->rawPath;
  request.body = std::move(pending->body);
  request.peer = peerOf(connection);
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collectValue, &request.query);
  MHD_get_connection_values(connection, MHD_HEADER_KIND, collectHeader, &request.headers);
  if (listener.tls != nullptr) {
    // The verified peer, attached when the connection started (countConnection).
    const auto* identity = identityOf(connection);
    if (identity == nullptr || *identity == nullptr) {
      return queue(connection,
                   errorResponse(Error{ErrorKind::Unauthenticated,
                                       "this TLS connection's peer is unknown; reconnect"}),
                   true);
    }
    request.identity = **identity;
    if (auto refusal = refuseOnJoinConnection(request)) {
      return queue(connection, *refusal, true);
    }
  }
  bool closeAfter = request.identity && request.identity->join;
  const HttpServer::Route* route = listener.engine->match(request);
  if (route == nullptr) {
    // 404 and 405 need no handler: answered here, on the polling thread.
    pending->sending = true;
    ++listener.sending;
    return queue(connection, listener.engine->unrouted(request), closeAfter);
  }
  auto exchange = std::make_shared<HttpExchange>();
  exchange->async = static_cast<bool>(route->asyncHandler);
  exchange->closeAfter = closeAfter;
  if (route->onPollingThread) {
    // routeInline: answered here, behind the same barrier as on the pool (never
    // suspended, so respond() resumes nothing).
    runRoute(*route, request, exchange);
    pending->sending = true;
    ++listener.sending;
    return queue(connection, *exchange->answer, closeAfter);
  }
  if (!listener.engine->suspendFor(connection, exchange)) {
    pending->sending = true;
    ++listener.sending;
    return queue(connection, stoppingResponse(), closeAfter);
  }
  pending->exchange = exchange;
  // Suspended before the job exists, so that its answer can never come before the
  // suspension (libmicrohttpd would then lose both).
  listener.engine->runOnPool(*route, std::move(request), std::move(exchange));
  return MHD_YES;
}

// libmicrohttpd is C: an exception must not cross it. dispatch() is the barrier around
// handlers; this catch is for the server's own code (an allocation failing, say), and
// drops the connection.
MHD_Result handleConnection(void* cls, MHD_Connection* connection, const char* url,
                            const char* method, const char* /*version*/, const char* uploadData,
                            size_t* uploadDataSize, void** connectionState) {
  try {
    return serveRequest(*static_cast<HttpServer::Listener*>(cls), connection, url, method,
                        uploadData, uploadDataSize, connectionState);
  } catch (const std::exception& error) {
    spdlog::error("http server: dropped a connection: {}", printable(error.what()));
  } catch (...) {
    spdlog::error("http server: dropped a connection: unknown exception");
  }
  return MHD_NO;
}

// Tracks every connection (Listener::open) with its descriptor and, on a TLS listener,
// its verified peer (TlsListener registered it under the descriptor it handed over).
void countConnection(void* cls, MHD_Connection* connection, void** socketContext,
                     MHD_ConnectionNotificationCode code) {
  auto* listener = static_cast<HttpServer::Listener*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    listener->connections.fetch_add(1);
    auto state = std::make_unique<HttpConnection>();
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    state->fd = info != nullptr ? info->connect_fd : -1;
    if (listener->tls != nullptr && state->fd >= 0) {
      state->identity = listener->tls->takeIdentity(state->fd);
    }
    if (state->fd >= 0 && listener->engine->endWatch >= 0) {
      epoll_event event{};
      event.events = EPOLLRDHUP | EPOLLET;
      event.data.fd = state->fd;
      epoll_ctl(listener->engine->endWatch, EPOLL_CTL_ADD, state->fd, &event);
    }
    std::lock_guard lock(listener->connectionsMutex);
    listener->open.insert(state.get());
    *socketContext = state.release();
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    listener->connections.fetch_sub(1);
    auto* state = static_cast<HttpConnection*>(*socketContext);
    {
      std::lock_guard lock(listener->connectionsMutex);
      listener->open.erase(state);
    }
    if (state != nullptr && state->fd >= 0 && listener->engine->endWatch >= 0) {
      epoll_ctl(listener->engine->endWatch, EPOLL_CTL_DEL, state->fd, nullptr);
    }
    delete state;
    *socketContext = nullptr;
  }
}

// Notes that the connection moved (the sweep leaves a moving connection alone) and, with
// `answering`, that an answer is due on it: until its request completes, a client that
// half-closed waits for that answer and must not be cut.
void noteProgress(HttpServer::Listener& listener, MHD_Connection* connection, bool answering) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  auto* state = info != nullptr ? static_cast<HttpConnection*>(info->socket_context) : nullptr;
  if (state == nullptr) {
    return;
  }
  std::lock_guard lock(listener.connectionsMutex);
  ++state->progress;
  state->answering = answering;
}

void requestCompleted(void* cls, MHD_Connection* connection, void** connectionState,
                      MHD_RequestTerminationCode /*code*/) {
  auto* listener = static_cast<HttpServer::Listener*>(cls);
  auto* pending = static_cast<PendingRequest*>(*connectionState);
  if (pending != nullptr) {
    noteProgress(*listener, connection, false);
    --listener->inFlight;
    if (pending->sending) {
      --listener->sending;
    }
    // Resumed, then closed before its answer was queued (the client reset it).
    if (pending->exchange != nullptr) {
      listener->engine->forgetSuspended(pending->exchange);
    }
  }
  delete pending;
  *connectionState = nullptr;
}

void logMhdError(void* /*cls*/, const char* format, va_list args) {
  char text[512];
  vsnprintf(text, sizeof(text), format, args);
  std::string message(text);
  while (!message.empty() && message.back() == '\n') {
    message.pop_back();
  }
  spdlog::debug("http server: {}", message);
}

HttpResponse notFound(const HttpRequest& request) {
  return errorResponse(Error{ErrorKind::NotFound,
                             fmt::format("no API route {} {}", printable(request.method, 16),
                                         printable(request.path, kQuotedMax))});
}

// What the barrier answers when a handler threw: the route, never the request's bytes.
HttpResponse handlerFailed(const HttpServer::Route& route, std::string_view what) {
  spdlog::error("http server: the handler of {} {} failed: {}", route.method, route.pattern,
                printable(what));
  return errorResponse(Error{ErrorKind::Internal,
                             fmt::format("{} {}: the request failed inside overmeshd ({}); "
                                         "overmeshd keeps serving, see its log",
                                         route.method, route.pattern, printable(what, 200))});
}

}  // namespace

// What every copy of one HttpResponder shares: when the last copy goes without an
// answer, the client gets a 500 instead of waiting forever.
struct HttpResponder::Shared {
  std::shared_ptr<HttpExchange> exchange;
  std::string route;

  ~Shared() {
    exchange->respond(errorResponse(Error{
        ErrorKind::Internal,
        fmt::format("{}: the request ended inside overmeshd without an answer; overmeshd keeps "
                    "serving, see its log",
                    route)}));
  }
};

HttpResponder::HttpResponder(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

void HttpResponder::respond(HttpResponse response) const {
  shared_->exchange->respond(std::move(response));
}

bool HttpResponder::abandoned() const {
  std::lock_guard lock(shared_->exchange->mutex);
  return shared_->exchange->abandoned;
}

std::string HttpRequest::queryOr(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::headerOr(const std::string& name, const std::string& fallback) const {
  auto it = headers.find(name);
  return it == headers.end() ? fallback : it->second;
}

namespace {

// Runs the route's handler behind the barrier and hands its answer to `exchange`: a sync
// handler's return value, or whatever an async handler's responder sends later. Whatever
// a handler throws becomes a 500 naming the route (an async one's only if it had not
// answered yet).
void runRoute(const HttpServer::Route& route, const HttpRequest& request,
              const std::shared_ptr<HttpExchange>& exchange) {
  try {
    if (route.asyncHandler) {
      auto shared = std::make_shared<HttpResponder::Shared>();
      shared->exchange = exchange;
      shared->route = fmt::format("{} {}", route.method, route.pattern);
      route.asyncHandler(request, HttpResponder(std::move(shared)));
      return;
    }
    exchange->respond(route.handler(request));
  } catch (const std::exception& error) {
    exchange->respond(handlerFailed(route, error.what()));
  } catch (...) {
    exchange->respond(handlerFailed(route, "unknown exception"));
  }
}

HttpResponse busyResponse(std::size_t queued) {
  return errorResponse(Error{
      ErrorKind::Unavailable,
      fmt::format("overmeshd is busy: {} requests already wait for a handler; try again later",
                  queued)});
}

}  // namespace

bool HttpServer::Engine::suspendFor(MHD_Connection* connection,
                                    const std::shared_ptr<HttpExchange>& exchange) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  std::lock_guard lock(mutex);
  if (stopping) {
    return false;
  }
  MHD_suspend_connection(connection);
  {
    std::lock_guard exchangeLock(exchange->mutex);
    exchange->suspended = connection;
    exchange->fd = info != nullptr ? info->connect_fd : -1;
  }
  suspended.insert(exchange);
  return true;
}

void HttpServer::Engine::runOnPool(const Route& route, HttpRequest request,
                                   std::shared_ptr<HttpExchange> exchange) {
  bool taken = false;
  try {
    taken = pool->submit(
        [&route, request = std::move(request), job = exchange] { runRoute(route, request, job); });
  } catch (const std::exception& error) {
    // The connection is suspended already: it must get an answer, whatever failed here.
    spdlog::error("http server: cannot hand a request to a handler: {}", printable(error.what()));
  }
  if (!taken) {
    exchange->respond(busyResponse(pool->queuedCount()));
  }
}

void HttpServer::Engine::forgetSuspended(const std::shared_ptr<HttpExchange>& exchange) {
  std::lock_guard lock(mutex);
  suspended.erase(exchange);
}

void HttpServer::Engine::abandonAll() {
  std::vector<std::shared_ptr<HttpExchange>> waiting;
  {
    std::lock_guard lock(mutex);
    stopping = true;
    waiting.assign(suspended.begin(), suspended.end());
  }
  if (wakeFd >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t written = write(wakeFd, &one, sizeof(one));
  }
  for (const auto& exchange : waiting) {
    exchange->abandon(stoppingResponse());
  }
}

bool HttpServer::Engine::noneSuspended() {
  std::lock_guard lock(mutex);
  return suspended.empty();
}

void HttpServer::Engine::sweepClosedClients() {
  auto lastFull = std::chrono::steady_clock::now();
  bool pending = false;
  while (true) {
    std::set<int> ended;
    if (endWatch >= 0) {
      epoll_event events[256];
      auto wait = pending ? kEndConfirm : kFullSweepInterval;
      int count = epoll_wait(endWatch, events, 256, static_cast<int>(wait.count()));
      for (int i = 0; i < count; ++i) {
        if (events[i].data.fd != wakeFd) {
          ended.insert(events[i].data.fd);
        }
      }
    } else {
      std::this_thread::sleep_for(pending ? kEndConfirm : kFullSweepInterval);
    }
    auto now = std::chrono::steady_clock::now();
    bool full = now - lastFull >= kFullSweepInterval;
    if (full) {
      lastFull = now;
    }
    std::vector<std::shared_ptr<HttpExchange>> gone;
    std::vector<Listener*> watched;
    {
      std::lock_guard lock(mutex);
      if (stopping) {
        return;
      }
      for (const auto& exchange : suspended) {
        if (!full || !exchange->async) {
          continue;
        }
        std::lock_guard exchangeLock(exchange->mutex);
        // Only while suspended is the descriptor certainly still this connection's.
        if (exchange->suspended == nullptr || exchange->fd < 0) {
          continue;
        }
        char byte = 0;
        ssize_t peeked = recv(exchange->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (peeked == 0 ||
            (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          gone.push_back(exchange);
        }
      }
      watched = listeners;
    }
    for (const auto& exchange : gone) {
      exchange->abandon(errorResponse(
          Error{ErrorKind::Unavailable, "the client closed its connection before the answer"}));
    }
    pending = false;
    for (Listener* listener : watched) {
      pending = closeDeparted(*listener, full, ended) || pending;
    }
  }
}

bool HttpServer::Engine::closeDeparted(Listener& listener, bool everyConnection,
                                       const std::set<int>& ended) {
  auto now = std::chrono::steady_clock::now();
  bool pending = false;
  std::lock_guard lock(listener.connectionsMutex);
  for (HttpConnection* connection : listener.open) {
    bool endEvent = ended.contains(connection->fd);
    if (connection->answering || connection->fd < 0) {
      // Its client may have ended while an answer is due: look again once it is sent.
      connection->endPending = connection->endPending || endEvent;
      connection->eofSeen = false;
      pending = pending || connection->endPending;
      continue;
    }
    if (!everyConnection && !connection->eofSeen && !connection->endPending && !endEvent) {
      continue;
    }
    connection->endPending = false;
    // The descriptor stays this connection's while the lock is held: libmicrohttpd
    // reports CLOSED (countConnection, which takes the lock) before it closes it.
    char byte = 0;
    ssize_t peeked = recv(connection->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    bool end =
        peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    if (!end || !connection->eofSeen || connection->progressAtEof != connection->progress) {
      connection->eofSeen = end;
      connection->eofSeenAt = now;
      connection->progressAtEof = connection->progress;
    } else if (now - connection->eofSeenAt >= kEndConfirm) {
      // libmicrohttpd sees the event this makes, reads the end and closes the connection.
      shutdown(connection->fd, SHUT_RDWR);
      connection->eofSeen = false;
    }
    pending = pending || connection->eofSeen;
  }
  return pending;
}

HttpServer::HttpServer() : engine_(std::make_unique<Engine>(*this)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string pattern, HttpHandler handler) {
  std::vector<std::string> segments = splitPath(pattern);
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments),
                          std::move(handler), nullptr});
}

void HttpServer::routeAsync(std::string method, std::string pattern,
                            AsyncHttpHandler handler) {
  std::vector<std::string> segments = splitPath(pattern);
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments), nullptr,
                          std::move(handler)});
}

void HttpServer::routeInline(std::string method, std::string pattern, HttpHandler handler) {
  std::vector<std::string> segments = splitPath(pattern);
  routes_.push_back(Route{std::move(method), std::move(pattern), std::move(segments),
                          std::move(handler), nullptr, true});
}

const HttpServer::Route* HttpServer::match(HttpRequest& request) const {
  // Split before decoding, so that an escaped '/' stays inside its segment.
  std::vector<std::string> segments = splitPath(request.path);
  for (std::string& segment : segments) {
    segment = percentDecode(segment);
  }
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size() || route.method != request.method) {
      continue;
    }
    std::vector<std::string> params;
    bool matches = true;
    for (std::size_t i = 0; i < segments.size() && matches; ++i) {
      const std::string& want = route.segments[i];
      if (want.size() >= 2 && want.front() == '{' && want.back() == '}') {
        params.push_back(segments[i]);
      } else if (want != segments[i]) {
        matches = false;
      }
    }
    if (matches) {
      request.params = std::move(params);
      return &route;
    }
  }
  return nullptr;
}

HttpResponse HttpServer::unrouted(const HttpRequest& request) const {
  std::vector<std::string> segments = splitPath(request.path);
  for (std::string& segment : segments) {
    segment = percentDecode(segment);
  }
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) {
      continue;
    }
    bool matches = true;
    for (std::size_t i = 0; i < segments.size() && matches; ++i) {
      const std::string& want = route.segments[i];
      bool param = want.size() >= 2 && want.front() == '{' && want.back() == '}';
      matches = param || want == segments[i];
    }
    if (matches) {
      HttpResponse response = errorResponse(
          Error{ErrorKind::InvalidArgument,
                fmt::format("method {} not allowed on {}", printable(request.method, 16),
                            printable(request.path, kQuotedMax))});
      response.status = 405;
      return response;
    }
  }
  return notFound(request);
}

HttpResponse HttpServer::dispatch(HttpRequest& request) const {
  const Route* route = match(request);
  if (route == nullptr) {
    return unrouted(request);
  }
  // On the calling thread; an async route's answer is waited for.
  auto exchange = std::make_shared<HttpExchange>();
  runRoute(*route, request, exchange);
  std::unique_lock lock(exchange->mutex);
  exchange->answered.wait(lock, [&exchange] { return exchange->answer.has_value(); });
  return *exchange->answer;
}

Status HttpServer::listenUnix(const std::string& path, mode_t mode) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return errorf(ErrorKind::InvalidArgument,
                  "socket path {} is too long: a unix socket path has at most {} bytes", path,
                  sizeof(address.sun_path) - 1);
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return errorf(ErrorKind::Unavailable, "socket(AF_UNIX): {}", errnoText(errno));
  }
  // A socket file may be left by a daemon that died; it is stale if nobody accepts on it.
  struct stat existing {};
  if (lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      close(fd);
      return errorf(ErrorKind::FailedPrecondition,
                    "{} exists and is not a socket; remove it or choose another --socket", path);
    }
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
      close(fd);
      return errorf(ErrorKind::FailedPrecondition,
                    "another overmeshd is already listening on {}; stop it or choose another "
                    "--socket",
                    path);
    }
    close(fd);
    unlink(path.c_str());
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return errorf(ErrorKind::Unavailable, "socket(AF_UNIX): {}", errnoText(errno));
    }
  }
  // The umask makes the socket file private from the moment it exists (chmod after bind
  // would leave a window where any local user could connect).
  mode_t previous = umask(static_cast<mode_t>(~mode & 0777));
  int bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  int bindErrno = errno;
  umask(previous);
  if (bound != 0) {
    close(fd);
    return errorf(ErrorKind::Unavailable, "bind {}: {}", path, errnoText(bindErrno));
  }
  if (listen(fd, kListenBacklog) != 0) {
    int listenErrno = errno;
    close(fd);
    unlink(path.c_str());
    return errorf(ErrorKind::Unavailable, "listen {}: {}", path, errnoText(listenErrno));
  }
  unixPaths_.push_back(path);
  return startDaemon(fd, true);
}

namespace {

struct TcpSocket {
  int fd;
  std::uint16_t port;
};

// A listening TCP socket on `address`:`port` (0 = any free port).
Result<TcpSocket> openTcpListener(const std::string& address, std::uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &in.sin_addr) != 1) {
    return errorf(ErrorKind::InvalidArgument, "listen address {} is not an IPv4 address",
                  address);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return errorf(ErrorKind::Unavailable, "socket(AF_INET): {}", errnoText(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) != 0) {
    int err = errno;
    close(fd);
    return errorf(ErrorKind::Unavailable, "bind {}:{}: {}", address, port, errnoText(err));
  }
  if (listen(fd, kListenBacklog) != 0) {
    int err = errno;
    close(fd);
    return errorf(ErrorKind::Unavailable, "listen {}:{}: {}", address, port, errnoText(err));
  }
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return TcpSocket{fd, ntohs(bound.sin_port)};
}

}  // namespace

Result<std::uint16_t> HttpServer::listenTcp(const std::string& address, std::uint16_t port) {
  auto socket = openTcpListener(address, port);
  if (!socket) {
    return std::unexpected(socket.error());
  }
  if (auto started = startDaemon(socket->fd, false); !started) {
    return std::unexpected(started.error());
  }
  return socket->port;
}

Result<std::uint16_t> HttpServer::listenTls(const std::string& address, std::uint16_t port,
                                            TlsListenOptions options) {
  auto socket = openTcpListener(address, port);
  if (!socket) {
    return std::unexpected(socket.error());
  }
  // libmicrohttpd serves HTTP on connections TlsListener hands it; it listens on nothing.
  // MHD's own hard limit leaves room for the join connections besides the members'.
  if (auto started = startDaemon(-1, false, options.maxUnverifiedConnections); !started) {
    close(socket->fd);
    return std::unexpected(started.error());
  }
  Listener& listener = *listeners_.back();
  MHD_Daemon* daemon = listener.daemon;
  auto tls = TlsListener::start(
      socket->fd, std::move(options), limits_.maxConnections + kConnectionSlack,
      [daemon](int fd, const sockaddr_in& peer) {
        return MHD_add_connection(daemon, fd, reinterpret_cast<const sockaddr*>(&peer),
                                  sizeof(peer)) == MHD_YES;
      });
  if (!tls) {
    {
      std::lock_guard lock(engine_->mutex);
      std::erase(engine_->listeners, &listener);
    }
    MHD_stop_daemon(daemon);
    listeners_.pop_back();
    return std::unexpected(tls.error());
  }
  listener.tls = std::move(*tls);
  return socket->port;
}

std::size_t HttpServer::closeConnections(const std::function<bool(const PeerIdentity&)>& which) {
  std::size_t closed = 0;
  for (auto& listener : listeners_) {
    if (listener->tls != nullptr) {
      closed += listener->tls->closeConnections(which);
    }
  }
  return closed;
}

Status HttpServer::startDaemon(int listenFd, bool isUnix, unsigned int extraConnections) {
  if (engine_->pool == nullptr) {
    engine_->pool = std::make_unique<HandlerPool>(
        "om-http", HandlerPoolLimits{.maxThreads = limits_.handlerThreads,
                                     .maxQueued = limits_.maxQueuedRequests});
  }
  if (!engine_->sweeper.joinable()) {
    Engine* engine = engine_.get();
    engine_->sweeper = std::thread([engine] {
      pthread_setname_np(pthread_self(), "om-http-sweep");
      engine->sweepClosedClients();
    });
  }
  auto listener = std::make_unique<Listener>();
  listener->server = this;
  listener->engine = engine_.get();
  // One polling thread per listener with epoll: no FD_SETSIZE ceiling and no thread per
  // connection. Handlers run on the pool with their connection suspended (ITC wakes the
  // polling thread when one is resumed).
  unsigned int flags =
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (listenFd < 0) {
    flags |= MHD_USE_NO_LISTEN_SOCKET;  // listenTls: connections come from MHD_add_connection
  }
  // Beyond maxConnections requests get a 503 from serveRequest; beyond the slack, MHD
  // closes new connections itself, so that a flood is bounded by descriptors, not memory.
  unsigned int hardLimit = limits_.maxConnections + kConnectionSlack + extraConnections;
  // The listening socket, when there is one (MHD refuses the option with no socket).
  MHD_OptionItem listenOption[] = {
      {listenFd < 0 ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, listenFd, nullptr},
      {MHD_OPTION_END, 0, nullptr}};
  MHD_Daemon* daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &handleConnection, listener.get(), MHD_OPTION_ARRAY, listenOption,
      MHD_OPTION_NOTIFY_COMPLETED, &requestCompleted, listener.get(), MHD_OPTION_URI_LOG_CALLBACK,
      &startRequest, listener.get(), MHD_OPTION_EXTERNAL_LOGGER, &logMhdError, nullptr,
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned int>(120), MHD_OPTION_CONNECTION_LIMIT,
      hardLimit, MHD_OPTION_NOTIFY_CONNECTION, &countConnection, listener.get(), MHD_OPTION_END);
  if (daemon == nullptr) {
    if (listenFd >= 0) {
      close(listenFd);
    }
    return errorf(ErrorKind::Unavailable, "cannot start the HTTP server on a {} socket",
                  isUnix ? "unix" : "TCP");
  }
  listener->daemon = daemon;
  {
    std::lock_guard lock(engine_->mutex);
    engine_->listeners.push_back(listener.get());
  }
  listeners_.push_back(std::move(listener));
  return {};
}

void HttpServer::stop() {
  // A handler that is returning (an exec the daemon cancelled as it stops, say) may not
  // have its answer written yet: MHD_stop_daemon would close the connection under it and
  // the client would see an empty reply instead of the error. Requests in progress get
  // the drain time to finish; answers already produced always get up to 2 s to go out.
  // No new TLS connections from here on; those open keep relaying until their HTTP
  // side closes below.
  for (auto& listener : listeners_) {
    if (listener->tls != nullptr) {
      listener->tls->stopAccepting();
    }
  }
  auto start = std::chrono::steady_clock::now();
  for (auto& listener : listeners_) {
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(2)) {
      bool draining = listener->inFlight.load() > 0 &&
                      std::chrono::steady_clock::now() - start < stopDrain_;
      if (!draining && listener->sending.load() == 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  // libmicrohttpd must not stop with a suspended connection: every request still waiting
  // for its handler (a long-poll, a handler past the drain) is answered 503 "stopping"
  // and resumed, and its answer gets up to a second to go out.
  engine_->abandonAll();
  // The sweep ends with `stopping`; joined before the listeners it looks at go.
  if (engine_->sweeper.joinable()) {
    engine_->sweeper.join();
  }
  auto answered = std::chrono::steady_clock::now();
  auto allSent = [this] {
    return engine_->noneSuspended() &&
           std::all_of(listeners_.begin(), listeners_.end(),
                       [](const auto& listener) { return listener->sending.load() == 0; });
  };
  while (!allSent() && std::chrono::steady_clock::now() - answered < std::chrono::seconds(1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& listener : listeners_) {
    // A TLS handshake that finishes now must not hand its connection to a daemon being
    // stopped (libmicrohttpd aborts the process on that): close the hand-off first.
    if (listener->tls != nullptr) {
      listener->tls->closeHandoff();
    }
    // MHD_stop_daemon closes the listening socket it was given and every connection.
    MHD_stop_daemon(listener->daemon);
    if (listener->tls != nullptr) {
      listener->tls->stop();
    }
  }
  listeners_.clear();
  // Handlers still running finish (their answers go nowhere); queued ones are dropped.
  if (engine_->pool != nullptr) {
    engine_->pool->stop();
  }
  for (const std::string& path : unixPaths_) {
    unlink(path.c_str());
  }
  unixPaths_.clear();
  // A fresh engine: the server may listen again.
  engine_ = std::make_unique<Engine>(*this);
}

}  // namespace overmesh::api
