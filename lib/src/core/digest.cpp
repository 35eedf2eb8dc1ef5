// SHA-256 with a reused per-thread OpenSSL context; SipHash; content tags.
#include "core/digest.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <vector>

namespace ctishare::detail {

std::array<std::uint8_t, 32> sha256(std::string_view data) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* p = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(p); }
  };
  thread_local Ctx ctx;
  std::array<std::uint8_t, 32> out{};
  unsigned len = 0;
  EVP_DigestInit_ex2(ctx.p, md, nullptr);
  EVP_DigestUpdate(ctx.p, data.data(), data.size());
  EVP_DigestFinal_ex(ctx.p, out.data(), &len);
  return out;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xF];
  }
  return out;
}

}  // namespace ctishare::detail

namespace ctishare::detail {

namespace {

inline std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline std::uint64_t load_le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

inline void store_le(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  }
};

}  // namespace

std::array<std::uint8_t, 16> siphash128(const SipKey& key, std::string_view data) {
  const std::uint64_t k0 = load_le(key.data());
  const std::uint64_t k1 = load_le(key.data() + 8);
  SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
             k1 ^ 0x7465646279746573ULL};
  s.v1 ^= 0xee;
  const auto* in = reinterpret_cast<const std::uint8_t*>(data.data());
  const std::size_t len = data.size();
  const std::size_t whole = len & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) {
    const std::uint64_t m = load_le(in + i);
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  std::uint64_t b = static_cast<std::uint64_t>(len) << 56;
  for (std::size_t i = 0; i < (len & 7); ++i) b |= static_cast<std::uint64_t>(in[whole + i]) << (8 * i);
  s.v3 ^= b;
  s.round();
  s.round();
  s.v0 ^= b;
  s.v2 ^= 0xee;
  for (int i = 0; i < 4; ++i) s.round();
  std::array<std::uint8_t, 16> out{};
  store_le(out.data(), s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
  s.v1 ^= 0xdd;
  for (int i = 0; i < 4; ++i) s.round();
  store_le(out.data() + 8, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
  return out;
}

}  // namespace ctishare::detail

namespace ctishare::detail {

namespace {

constexpr std::size_t kPolyKeyBytes = 32, kPolyTagBytes = 16;

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text) {
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

class PolyTagger final : public ContentTagger {
 public:
  // nullptr when the provider has no Poly1305 or no randomness.
  static std::unique_ptr<PolyTagger> create(const std::uint8_t* key = nullptr) {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
    if (mac == nullptr) return nullptr;
    std::unique_ptr<PolyTagger> t(new PolyTagger(EVP_MAC_CTX_new(mac)));
    if (t->ctx_ == nullptr) return nullptr;
    if (key != nullptr) {
      std::copy(key, key + kPolyKeyBytes, t->key_.begin());
    } else if (RAND_bytes(t->key_.data(), static_cast<int>(t->key_.size())) != 1) {
      return nullptr;
    }
    if (EVP_MAC_init(t->ctx_, t->key_.data(), t->key_.size(), nullptr) != 1) return nullptr;
    return t;
  }
  ~PolyTagger() override { EVP_MAC_CTX_free(ctx_); }
  PolyTagger(const PolyTagger&) = delete;
  PolyTagger& operator=(const PolyTagger&) = delete;

  bool update(const void* data, std::size_t size) override {
    ok_ = ok_ && EVP_MAC_update(ctx_, static_cast<const unsigned char*>(data), size) == 1;
    return ok_;
  }
  std::optional<std::string> finish() override {
    std::array<std::uint8_t, kPolyTagBytes> tag{};
    std::size_t n = 0;
    if (!ok_ || EVP_MAC_final(ctx_, tag.data(), &n, tag.size()) != 1 || n != tag.size()) return std::nullopt;
    ok_ = false;
    return "poly1305:" + to_hex(key_.data(), key_.size()) + ":" + to_hex(tag.data(), tag.size());
  }

 private:
  explicit PolyTagger(EVP_MAC_CTX* ctx) : ctx_(ctx) {}
  EVP_MAC_CTX* ctx_;
  std::array<std::uint8_t, kPolyKeyBytes> key_{};
  bool ok_ = true;
};

class ShaTagger final : public ContentTagger {
 public:
  static std::unique_ptr<ShaTagger> create() {
    std::unique_ptr<ShaTagger> t(new ShaTagger(EVP_MD_CTX_new()));
    if (t->ctx_ == nullptr || EVP_DigestInit_ex(t->ctx_, EVP_sha256(), nullptr) != 1) return nullptr;
    return t;
  }
  ~ShaTagger() override { EVP_MD_CTX_free(ctx_); }
  ShaTagger(const ShaTagger&) = delete;
  ShaTagger& operator=(const ShaTagger&) = delete;

  bool update(const void* data, std::size_t size) override {
    ok_ = ok_ && EVP_DigestUpdate(ctx_, data, size) == 1;
    return ok_;
  }
  std::optional<std::string> finish() override {
    std::array<std::uint8_t, 32> d{};
    unsigned n = 0;
    if (!ok_ || EVP_DigestFinal_ex(ctx_, d.data(), &n) != 1 || n != d.size()) return std::nullopt;
    ok_ = false;
    return "sha256:" + to_hex(d);
  }

 private:
  explicit ShaTagger(EVP_MD_CTX* ctx) : ctx_(ctx) {}
  EVP_MD_CTX* ctx_;
  bool ok_ = true;
};

}  // namespace

std::unique_ptr<ContentTagger> ContentTagger::create() {
  if (auto poly = PolyTagger::create()) return poly;
  return ShaTagger::create();
}

std::optional<bool> has_content_tag(std::string_view data, std::string_view tag) {
  if (tag.starts_with("sha256:")) {
    if (tag.size() != 7 + 64 || !from_hex(tag.substr(7))) return std::nullopt;
    return "sha256:" + sha256_hex(data) == tag;
  }
  if (!tag.starts_with("poly1305:")) return std::nullopt;
  const std::string_view rest = tag.substr(9);
  const auto key = from_hex(rest.substr(0, 2 * kPolyKeyBytes));
  if (rest.size() != 2 * kPolyKeyBytes + 1 + 2 * kPolyTagBytes || rest[2 * kPolyKeyBytes] != ':' || !key ||
      !from_hex(rest.substr(2 * kPolyKeyBytes + 1)))
    return std::nullopt;
  auto again = PolyTagger::create(key->data());
  if (!again) return false;  // this OpenSSL cannot check it: not the same, as far as anyone can tell
  again->update(data.data(), data.size());
  return again->finish() == tag;
}

}  // namespace ctishare::detail
