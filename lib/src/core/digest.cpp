// SHA-256 with a reused per-thread OpenSSL context.
#include "core/digest.h"

#include <openssl/evp.h>

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

}  // namespace ctishare::detail
