// Streaming SHA-256.
//
// A thin owner of an OpenSSL EVP digest context. Bytes are fed with update()
// as they arrive from the network, so a download is hashed in the same pass
// that writes it, never by reading the file back. EVP picks the CPU's SHA
// instructions when present. The object is reusable: reset() starts over
// without reallocating the context.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace dlhost::transport {

class Sha256 {
 public:
  Sha256();  // throws std::runtime_error if OpenSSL cannot allocate
  ~Sha256();
  Sha256(Sha256 &&other) noexcept;
  Sha256 &operator=(Sha256 &&other) noexcept;
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;

  void reset();
  void update(const void *data, size_t len);
  // Finishes the digest, returns 64 lowercase hex digits, and resets.
  std::string final_hex();

  // One-shot convenience: hex digest of `data`.
  static std::string hex_of(std::string_view data);

 private:
  EVP_MD_CTX *ctx_ = nullptr;
};

// True when `hex` is 64 hex digits (either case).
bool is_sha256_hex(std::string_view hex);

}  // namespace dlhost::transport
