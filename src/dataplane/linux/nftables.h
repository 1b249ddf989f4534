#pragma once

// A thin wrapper over libnftables, bound to one network namespace: runs nft scripts as one
// atomic batch and reads tables back as JSON. overmesh owns only the tables it names
// (overmesh_*); callers replace a table whole ("table X {}; delete table X; table X {...}"
// in one batch) rather than editing rules one by one, so a failure leaves the old table
// untouched.
//
// libnftables (1.0.6 here) opens its netfilter socket once, in nft_ctx_new(), in the
// calling thread's namespace; other lookups (interface names, for `oif`) open route sockets
// at run time, again in the calling thread's namespace. So open() creates the context inside
// the namespace, and every call switches the calling thread into it for its duration.
//
// Errors carry nft's own message (its error buffer) and a kind guessed from it, since
// libnftables returns no code:
//   InvalidArgument  a syntax or evaluation error in the script, or a value the kernel refused
//   NotFound         the table/chain does not exist ("No such file or directory")
//   Conflict         "File exists" / "Device or resource busy"
//   Unavailable      the namespace, the socket or permissions (EPERM) failed
//
// Not thread-safe: one Nftables per thread, or a mutex around it.

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "dataplane/linux/netns.h"

struct nft_ctx;

namespace overmesh::dataplane::kernel {

class Nftables {
 public:
  // Creates an nft context whose socket lives in the named namespace (/run/netns/<name>),
  // or in the calling thread's namespace when `namespaceName` is empty. Fails with NotFound
  // when the namespace does not exist, Unavailable when no netfilter socket can be opened
  // there (checked first: libnftables would exit() the process instead of failing).
  static Result<Nftables> open(std::string_view namespaceName);

  ~Nftables();
  Nftables(Nftables&&) noexcept;
  Nftables& operator=(Nftables&&) noexcept;
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;

  // The namespace the context is bound to; empty = the one it was opened in unnamed.
  const std::string& namespaceName() const { return namespaceName_; }

  // Runs `commands` (nft syntax, several lines) as one batch: the kernel applies all of it
  // or none of it. Errors quote nft's message, which points at the offending line.
  Status run(std::string_view commands);

  // `list table FAMILY TABLE` as nft's JSON ({"nftables": [...]}). NotFound when the table
  // does not exist; InvalidArgument for a family or table name that is not an identifier.
  Result<std::string> listTableJson(std::string_view family, std::string_view table);

  // `list ruleset` as nft's JSON ({"nftables": [...]}): every table of the namespace, ours
  // and others' (the host firewall check reads it). Unavailable when it cannot be read.
  Result<std::string> listRulesetJson();

  // Deletes the table if it exists, atomically (create-if-missing and delete in one batch,
  // since nft 1.0.6 has no `destroy`). Succeeds when it does not exist.
  Status deleteTableIfExists(std::string_view family, std::string_view table);

 private:
  struct ContextDeleter {
    void operator()(nft_ctx* ctx) const;
  };
  using ContextPtr = std::unique_ptr<nft_ctx, ContextDeleter>;

  Nftables(UniqueFd namespaceFd, std::string namespaceName, ContextPtr ctx);

  // Runs `commands` inside the namespace; returns what nft printed. `operation` starts the
  // error message.
  Result<std::string> execute(std::string_view commands, bool json, std::string_view operation);

  UniqueFd namespaceFd_;  // invalid when bound to the namespace it was opened in unnamed
  std::string namespaceName_;
  ContextPtr ctx_;
};

}  // namespace overmesh::dataplane::kernel
