// SHA-256 and SipHash over OpenSSL's EVP interface (see digest.h).
// Errors from OpenSSL are programming or allocation failures, so they throw;
// in a plugin the ABI guard in abi_glue turns them into DLHOST_E_INTERNAL.
#include "dlhost/util/digest.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>
#include <utility>

namespace dlhost::util {
namespace {

// EVP_sha256() makes every EVP_DigestInit_ex look the algorithm up again in
// OpenSSL 3's provider store (a lock and a search). One explicit fetch, kept
// for the life of the process, skips that on every file.
const EVP_MD *sha256_md() {
  static EVP_MD *const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

EVP_MAC *siphash_mac() {
  static EVP_MAC *const mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  return mac;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::runtime_error("sha256: EVP_MD_CTX_new failed");
  reset();
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}

Sha256::Sha256(Sha256 &&other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256 &Sha256::operator=(Sha256 &&other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_, sha256_md(), nullptr) != 1)
    throw std::runtime_error("sha256: EVP_DigestInit_ex failed");
}

void Sha256::update(const void *data, std::size_t len) {
  if (len == 0) return;
  if (EVP_DigestUpdate(ctx_, data, len) != 1)
    throw std::runtime_error("sha256: EVP_DigestUpdate failed");
}

Sha256::Digest Sha256::final_digest() {
  Digest md{};
  unsigned int md_len = 0;
  if (EVP_DigestFinal_ex(ctx_, md.data(), &md_len) != 1 || md_len != md.size())
    throw std::runtime_error("sha256: EVP_DigestFinal_ex failed");
  reset();
  return md;
}

std::string Sha256::final_hex() {
  const auto md = final_digest();
  return to_hex(md.data(), md.size());
}

std::string Sha256::hex_of(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.final_hex();
}

std::string to_hex(const unsigned char *bytes, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

bool is_sha256_hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!ok) return false;
  }
  return true;
}

std::optional<std::array<unsigned char, 32>> hmac_sha256(const void *key, std::size_t key_len,
                                                         const void *data, std::size_t len) {
  std::array<unsigned char, 32> out{};
  std::size_t written = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key, key_len,
                static_cast<const unsigned char *>(data), len, out.data(), out.size(),
                &written) == nullptr ||
      written != out.size())
    return std::nullopt;
  return out;
}

bool random_bytes(void *out, std::size_t n) {
  return RAND_bytes(static_cast<unsigned char *>(out), static_cast<int>(n)) == 1;
}

KeyedHash64::KeyedHash64() {
  EVP_MAC *mac = siphash_mac();
  if (mac == nullptr) throw std::runtime_error("siphash: not available in libcrypto");
  ctx_ = EVP_MAC_CTX_new(mac);
  if (ctx_ == nullptr) throw std::runtime_error("siphash: EVP_MAC_CTX_new failed");
  unsigned char key[16];
  std::size_t size = 8;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  if (RAND_bytes(key, sizeof key) != 1 || EVP_MAC_init(ctx_, key, sizeof key, params) != 1) {
    EVP_MAC_CTX_free(ctx_);
    throw std::runtime_error("siphash: cannot set a random key");
  }
}

KeyedHash64::~KeyedHash64() {
  EVP_MAC_CTX_free(ctx_);
}

std::uint64_t KeyedHash64::operator()(std::string_view data) {
  unsigned char out[8];
  std::size_t n = 0;
  // init without a key starts a new message under the key set above.
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char *>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(ctx_, out, &n, sizeof out) != 1 || n != sizeof out)
    throw std::runtime_error("siphash: EVP_MAC failed");
  std::uint64_t v;
  std::memcpy(&v, out, sizeof v);
  return v;
}

}  // namespace dlhost::util
