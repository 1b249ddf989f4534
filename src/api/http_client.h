#pragma once

// An HTTP/1.1 client for the REST API over a unix socket or TCP, built on libcurl
// (cpp-httplib 0.11 in Debian 12 cannot connect to a unix socket).
//
// One HttpClient keeps one connection alive between requests; it is not thread-safe:
// give each thread its own.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "common/error.h"

namespace overmesh::api {

class HttpClient {
 public:
  // `endpoint` is "unix:///path/to.sock" or "tcp://HOST:PORT". Fails with
  // InvalidArgument for any other form, naming the accepted ones.
  static Result<std::unique_ptr<HttpClient>> create(const std::string& endpoint);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and returns the response whatever its status. Fails with
  // Unavailable when the server cannot be reached or the timeout passes; the message
  // names the endpoint.
  Result<HttpResponse> request(const std::string& method, const std::string& path,
                               const std::string& body = "",
                               std::chrono::milliseconds timeout = std::chrono::seconds(30),
                               const std::map<std::string, std::string>& headers = {});

  const std::string& endpoint() const { return endpoint_; }

  // While `*cancel` is true, requests in flight abort (within ~100 ms) and fail with
  // Unavailable: how a long-poll is cut short at shutdown. nullptr = never.
  void setCancelFlag(const std::atomic<bool>* cancel) { cancel_ = cancel; }

 private:
  HttpClient(std::string endpoint, std::string unixPath, std::string baseUrl);

  std::string endpoint_;
  std::string unixPath_;  // empty for TCP
  std::string baseUrl_;
  void* curl_ = nullptr;  // CURL*, reused so that keep-alive works
  const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace overmesh::api
