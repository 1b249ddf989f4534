#pragma once

// The JSON of etcd v3's gateway, as values: request bodies built from store.h's types and
// answers decoded into them. Pure (no I/O), so every quirk is unit-tested without etcd.
//
// What etcd 3.4's gateway does, as observed (tests/unit/store/etcd_codec_test.cc):
//  - field names are the proto's (snake_case: create_revision, range_end, compact_revision),
//    except the lease messages' "ID" and "TTL";
//  - int64 fields are JSON strings ("revision":"7"); fields at their zero value are left
//    out (a Put event has no "type", an empty value no "value", a missing lease no "lease");
//  - keys and values are base64;
//  - errors come back as a non-200 status with {"error","message","code"} (gRPC codes);
//  - streamed calls (watch, lease keep-alive) answer newline-delimited {"result":{...}}
//    objects, and an error in a stream as {"error":{...}}.
//
// Nothing here throws: a malformed answer is an InvalidArgument naming what was wrong,
// which the store reports as Unavailable naming the endpoint.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/store.h"

namespace overmesh::store::etcd {

// gRPC status codes etcd answers with (the ones the store tells apart).
enum class GrpcCode : int {
  Ok = 0,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  FailedPrecondition = 9,
  OutOfRange = 11,
  Unavailable = 14,
};

// An error answer of the gateway: {"error": "...", "message": "...", "code": N}.
struct GatewayError {
  int code = 0;         // gRPC code; 0 when the body had none
  std::string message;  // bounded, printable
};

// Decodes an error body; never fails (an undecodable body becomes its quoted text).
GatewayError decodeGatewayError(std::string_view body);

// POST /v3/kv/range: every key in [key, rangeEnd) (rangeEnd "" = key alone). countOnly
// asks for the header alone (the current revision).
std::string encodeRangeRequest(const std::string& key, const std::string& rangeEnd, bool countOnly);

struct RangeReply {
  Revision revision = 0;
  std::vector<KeyValue> kvs;
};
Result<RangeReply> decodeRangeReply(std::string_view body);

// POST /v3/kv/txn. InvalidArgument for an operation etcd cannot express (an empty key).
Result<std::string> encodeTxnRequest(const Txn& txn);

struct TxnReply {
  bool succeeded = false;
  Revision revision = 0;
};
Result<TxnReply> decodeTxnReply(std::string_view body);

// The header revision of any answer (compaction, lease revoke, maintenance status).
Result<Revision> decodeHeaderRevision(std::string_view body);

// POST /v3/lease/grant {"TTL": seconds}; the answer's ID and granted TTL (etcd raises a
// TTL under its minimum to that minimum).
std::string encodeLeaseGrant(std::int64_t ttlSeconds);
struct LeaseGrantReply {
  LeaseId id = 0;
  std::int64_t ttlSeconds = 0;
  std::string error;  // etcd's "error" field (e.g. the lessor is full), empty if none
};
Result<LeaseGrantReply> decodeLeaseGrantReply(std::string_view body);

// POST /v3/lease/keepalive and /v3/lease/revoke: {"ID": id}.
std::string encodeLeaseId(LeaseId lease);
// The TTL a single keep-alive answer carries ({"result":{"ID","TTL"}}); 0 = the lease is
// unknown (expired or revoked).
Result<std::int64_t> decodeKeepAliveReply(std::string_view body);

// POST /v3/kv/compaction {"revision": r}.
std::string encodeCompaction(Revision revision);

// POST /v3/watch: a create_request on [key, rangeEnd) from `startRevision`.
std::string encodeWatchCreate(const std::string& key, const std::string& rangeEnd,
                              Revision startRevision);

// One line of a watch stream.
struct WatchMessage {
  Revision headerRevision = 0;
  bool created = false;
  bool canceled = false;
  Revision compactRevision = 0;  // set when the start revision was compacted
  std::string cancelReason;
  std::vector<Event> events;
  // A stream-level error ({"error":{...}}): the stream is over.
  bool streamError = false;
  GatewayError error;
};
Result<WatchMessage> decodeWatchLine(std::string_view line);

// The key range that means "every key" to etcd: ["\0", "\0").
inline const std::string kAllKeys{'\0'};

}  // namespace overmesh::store::etcd
