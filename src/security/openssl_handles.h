#pragma once

// Owners for the OpenSSL objects the security library uses (internal to src/security and
// its tests): one unique_ptr alias per type, each freeing with OpenSSL's own function, so
// that no early return leaks. Also the few helpers every file needs: reading PEM from a
// bounded string, and turning OpenSSL's error queue into a message.
//
// OpenSSL keeps errors in a per-thread queue; every failure path here drains it
// (opensslErrorText), so a later, unrelated call never reports a stale error.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh::security::ossl {

template <auto FreeFunction>
struct Deleter {
  template <typename T>
  void operator()(T* object) const {
    FreeFunction(object);
  }
};

using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509Name = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using X509Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using Asn1Integer = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
inline void freeOpensslString(char* text) { OPENSSL_free(text); }
using OsslString = std::unique_ptr<char, Deleter<freeOpensslString>>;

// The oldest error in this thread's OpenSSL queue as text ("no start line"), or
// `fallback` when the queue is empty; empties the queue.
std::string opensslErrorText(std::string_view fallback = "unknown OpenSSL error");

// A read-only memory BIO over `text`; `what` names the input in the error. Refuses
// empty input and input larger than kMaxPemBytes (InvalidArgument).
Result<Bio> readOnlyBio(std::string_view text, std::string_view what);

// The whole content of a memory BIO.
std::string bioContent(BIO* bio);

// The first certificate / private key / CSR in PEM `text`. InvalidArgument naming
// `what` and OpenSSL's reason. A key is never decrypted: an encrypted one is refused
// (no password prompt on the terminal).
Result<X509Ptr> readCertificate(std::string_view text, std::string_view what);
Result<Pkey> readPrivateKey(std::string_view text, std::string_view what);
Result<X509Req> readCsr(std::string_view text, std::string_view what);

// PEM encodings (Internal on an OpenSSL failure).
Result<std::string> certificatePem(X509* cert);
Result<std::string> privateKeyPem(EVP_PKEY* key);

}  // namespace overmesh::security::ossl
