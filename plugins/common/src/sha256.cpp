// Streaming SHA-256 over OpenSSL's EVP interface (see sha256.h).
// Errors from OpenSSL are programming or allocation failures, so they throw;
// the ABI guard in abi_glue turns them into DLHOST_E_INTERNAL.
#include "dlhost/transport/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>
#include <utility>

namespace dlhost::transport {
namespace {

// EVP_sha256() makes every EVP_DigestInit_ex look the algorithm up again in
// OpenSSL 3's provider store (a lock and a search). One explicit fetch, kept
// for the life of the process, skips that on every file.
const EVP_MD *sha256_md() {
  static EVP_MD *const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
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

void Sha256::update(const void *data, size_t len) {
  if (len == 0) return;
  if (EVP_DigestUpdate(ctx_, data, len) != 1)
    throw std::runtime_error("sha256: EVP_DigestUpdate failed");
}

std::string Sha256::final_hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &md_len) != 1)
    throw std::runtime_error("sha256: EVP_DigestFinal_ex failed");
  static const char kHex[] = "0123456789abcdef";
  std::string out(md_len * 2, '0');
  for (unsigned int i = 0; i < md_len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xf];
  }
  reset();
  return out;
}

std::string Sha256::hex_of(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.final_hex();
}

bool is_sha256_hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!ok) return false;
  }
  return true;
}

}  // namespace dlhost::transport
