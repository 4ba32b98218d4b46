// Digests, over OpenSSL's libcrypto (EVP), for the host and the plugins.
//
//  - Sha256: streaming SHA-256. A download is hashed in the same pass that
//    writes it; the host hashes a file it finds already at its destination
//    once, and names a job by the SHA-256 of its manifest. EVP picks the
//    CPU's SHA instructions when present. reset() starts over without
//    reallocating.
//  - KeyedHash64: SipHash-2-4 with a random 128-bit key drawn per object.
//    A fast 64-bit fingerprint that a crafted input cannot steer: without
//    the key nobody can compute in advance which texts collide. It only ever
//    decides what to look at more closely; identity is decided by comparing
//    the texts themselves (or a full SHA-256).
//  - hmac_sha256() and random_bytes(): authenticating the host's own state
//    (.dlhost/verified) with a key of the output directory's.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace dlhost::util {

class Sha256 {
 public:
  using Digest = std::array<unsigned char, 32>;

  Sha256();  // throws std::runtime_error if OpenSSL cannot allocate
  ~Sha256();
  Sha256(Sha256 &&other) noexcept;
  Sha256 &operator=(Sha256 &&other) noexcept;
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;

  void reset();
  void update(const void *data, std::size_t len);
  // Finishes the digest and resets.
  Digest final_digest();
  // Finishes the digest, returns 64 lowercase hex digits, and resets.
  std::string final_hex();

  // One-shot convenience: hex digest of `data`.
  static std::string hex_of(std::string_view data);

 private:
  EVP_MD_CTX *ctx_ = nullptr;
};

// Lowercase hex of `bytes`.
std::string to_hex(const unsigned char *bytes, std::size_t n);

// True when `hex` is 64 hex digits (either case).
bool is_sha256_hex(std::string_view hex);

// HMAC-SHA-256 of `data` under `key`; nullopt when libcrypto fails.
std::optional<std::array<unsigned char, 32>> hmac_sha256(const void *key, std::size_t key_len,
                                                         const void *data, std::size_t len);

// Fills `out` from the system's cryptographic generator; false on failure.
bool random_bytes(void *out, std::size_t n);

class KeyedHash64 {
 public:
  KeyedHash64();  // a fresh random key; throws std::runtime_error on failure
  ~KeyedHash64();
  KeyedHash64(const KeyedHash64 &) = delete;
  KeyedHash64 &operator=(const KeyedHash64 &) = delete;

  std::uint64_t operator()(std::string_view data);

 private:
  EVP_MAC_CTX *ctx_ = nullptr;
};

}  // namespace dlhost::util
