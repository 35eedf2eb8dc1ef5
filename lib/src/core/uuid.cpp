// UUID generation (v4 from OpenSSL RAND_bytes, buffered; v5 via SHA-1) and
// text conversion.
#include "ctishare/uuid.h"

#include <openssl/rand.h>
#include <openssl/evp.h>

#include <cstring>
#include <mutex>

namespace ctishare {

namespace {
// Fetched once: an implicit fetch on every digest takes OpenSSL 3 locks.
const EVP_MD* fetched_sha1() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return md;
}
}  // namespace

namespace {

// Random bytes are drawn 4 KiB at a time: one RAND_bytes call per 256 UUIDs.
class RandomPool {
 public:
  bool take(std::uint8_t* out, std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    if (pos_ + n > buf_.size()) {
      if (RAND_bytes(buf_.data(), static_cast<int>(buf_.size())) != 1) return false;
      pos_ = 0;
    }
    std::memcpy(out, buf_.data() + pos_, n);
    // Bytes handed out are not kept around.
    std::memset(buf_.data() + pos_, 0, n);
    pos_ += n;
    return true;
  }

 private:
  std::mutex mu_;
  std::array<std::uint8_t, 4096> buf_{};
  std::size_t pos_ = 4096;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Uuid> Uuid::v4() {
  static RandomPool pool;
  std::array<std::uint8_t, 16> b{};
  if (!pool.take(b.data(), b.size()))
    return Error(ErrorCategory::internal, "the random number generator failed");
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  return Uuid(b);
}

Uuid Uuid::v5(const Uuid& ns, std::string_view name) {
  // One digest context per thread, reused: SCO ids are computed in bulk.
  struct Ctx {
    EVP_MD_CTX* p = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(p); }
  };
  thread_local Ctx ctx;
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned len = 0;
  EVP_DigestInit_ex(ctx.p, fetched_sha1(), nullptr);
  EVP_DigestUpdate(ctx.p, ns.bytes_.data(), ns.bytes_.size());
  EVP_DigestUpdate(ctx.p, name.data(), name.size());
  EVP_DigestFinal_ex(ctx.p, digest.data(), &len);
  std::array<std::uint8_t, 16> b{};
  std::memcpy(b.data(), digest.data(), 16);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x50);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  return Uuid(b);
}

std::optional<Uuid> Uuid::parse(std::string_view t) {
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') return std::nullopt;
  std::array<std::uint8_t, 16> b{};
  std::size_t j = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ++i;
      continue;
    }
    const int hi = hex_value(t[i]);
    const int lo = hex_value(t[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    b[j++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return Uuid(b);
}

void Uuid::append_to(std::string& out) const {
  static constexpr char kHex[] = "0123456789abcdef";
  char text[36];
  std::size_t j = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text[j++] = '-';
    text[j++] = kHex[bytes_[i] >> 4];
    text[j++] = kHex[bytes_[i] & 0xF];
  }
  out.append(text, sizeof text);
}

std::string Uuid::to_string() const {
  std::string out;
  out.reserve(36);
  append_to(out);
  return out;
}

const Uuid& stix_sco_namespace() {
  static const Uuid ns = *Uuid::parse("00abedb4-aa42-466c-9c01-fed23315a9b7");
  return ns;
}

}  // namespace ctishare
