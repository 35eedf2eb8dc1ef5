// Framing-agnostic STIX reading on top of json::parse_stream, and the
// deterministic bundle/NDJSON writer.
#include "ctishare/bundle.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace ctishare::stix {

namespace {
// Fetched once: an implicit fetch on every digest takes OpenSSL 3 locks.
const EVP_MD* fetched_sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

std::string compact_bundle_head(const std::string& bundle_id) {
  std::string out = "{\"type\":\"bundle\",\"id\":";
  json::write_string(bundle_id, out);
  out += ",\"objects\":[\n";
  return out;
}

std::string compact_empty_bundle(const std::string& bundle_id) {
  std::string out = "{\"type\":\"bundle\",\"id\":";
  json::write_string(bundle_id, out);
  out += "}\n";
  return out;
}

std::string Origin::where() const {
  return "object " + std::to_string(index + 1) + " (line " + std::to_string(line) + ")";
}

Status read_objects(std::istream& in, const ReadOptions& options, const ObjectSink& sink) {
  std::uint64_t count = 0;
  auto deliver = [&](json::Value&& v, std::uint64_t line) -> Status {
    Origin origin{line, count};
    if (options.limits.max_objects != 0 && count >= options.limits.max_objects)
      return Error(ErrorCategory::data, "more than " + std::to_string(options.limits.max_objects) +
                                            " objects in the input (--max-objects)");
    ++count;
    auto obj = Object::from_json(std::move(v));
    if (!obj) return std::move(obj).error().with_context(origin.where());
    return sink(std::move(*obj), origin);
  };
  auto on_value = [&](json::Value&& v, const json::StreamEvent& ev) -> Status {
    using Kind = json::StreamEvent::Kind;
    if (ev.kind == Kind::element) return deliver(std::move(v), ev.line);
    if (ev.kind == Kind::envelope) {
      if (v.is_null()) return {};  // a bare array of objects, already delivered
      // The rest of a top-level object whose "objects" array was streamed.
      auto type = v.find_string("type");
      if (!type || *type != "bundle")
        return Error(ErrorCategory::data, "top-level object at line " + std::to_string(ev.line) +
                                              " has an 'objects' array but is not a bundle");
      if (v.find("objects") != nullptr) return Error(ErrorCategory::data, "bundle has duplicate member name 'objects'");
      auto id = v.find_string("id");
      if (!id || id->rfind("bundle--", 0) != 0)
        return Error(ErrorCategory::data, "bundle at line " + std::to_string(ev.line) + " has no 'bundle--' id");
      return {};
    }
    if (v.is_array()) {
      for (auto& e : v.as_array()) CTI_TRY_STATUS(deliver(std::move(e), ev.line));
      return {};
    }
    if (!v.is_object())
      return Error(ErrorCategory::data, "top-level value at line " + std::to_string(ev.line) +
                                            " is not a STIX object, bundle or array");
    auto type = v.find_string("type");
    if (type && *type == "bundle") {
      // A bundle without an "objects" array (empty bundles omit it).
      const json::Value* objs = v.find("objects");
      if (objs != nullptr) return Error(ErrorCategory::data, "bundle 'objects' is not an array");
      auto id = v.find_string("id");
      if (!id || id->rfind("bundle--", 0) != 0)
        return Error(ErrorCategory::data, "bundle at line " + std::to_string(ev.line) + " has no 'bundle--' id");
      return {};
    }
    return deliver(std::move(v), ev.line);
  };
  return json::parse_stream(in, options.limits, "objects", on_value);
}

Result<std::vector<Object>> read_all(std::istream& in, const ReadOptions& options) {
  std::vector<Object> out;
  Status s = read_objects(in, options, [&](Object&& o, const Origin&) -> Status {
    out.push_back(std::move(o));
    return {};
  });
  if (!s) return std::move(s).error();
  return out;
}

BundleWriter::BundleWriter(Sink& sink, OutputFraming framing, json::Layout layout, std::string bundle_id)
    : sink_(sink), framing_(framing), layout_(layout), bundle_id_(std::move(bundle_id)) {}

Status BundleWriter::maybe_flush() {
  if (buf_.size() < (1U << 18)) return {};
  Status s = sink_.write(buf_);
  buf_.clear();
  return s;
}

std::string& BundleWriter::begin_object() {
  if (framing_ == OutputFraming::bundle && layout_ == json::Layout::pretty) {
    scratch_.clear();
    return scratch_;
  }
  if (framing_ == OutputFraming::bundle) {
    if (!started_) {
      buf_ += compact_bundle_head(bundle_id_);
      started_ = true;
    } else {
      buf_ += kCompactBundleSeparator;
    }
  }
  return buf_;
}

Status BundleWriter::end_object() {
  if (framing_ == OutputFraming::bundle && layout_ == json::Layout::pretty) {
    auto v = json::parse(scratch_, json::Limits{0, 0, 0, 0, 0});  // our own output: no limits
    if (!v) return std::move(v).error();
    return add(*v);
  }
  if (framing_ == OutputFraming::ndjson) buf_ += '\n';
  ++count_;
  return maybe_flush();
}

Status BundleWriter::add_serialized(std::string_view compact_object) {
  begin_object() += compact_object;
  return end_object();
}

Status BundleWriter::add(const json::Value& object) {
  if (framing_ == OutputFraming::ndjson || layout_ == json::Layout::compact) {
    std::string s;
    json::write(object, s);
    return add_serialized(s);
  }
  if (!started_) {
    buf_ += "{\n  \"type\": \"bundle\",\n  \"id\": ";
    json::write_string(bundle_id_, buf_);
    buf_ += ",\n  \"objects\": [\n    ";
    started_ = true;
  } else {
    buf_ += ",\n    ";
  }
  json::write(object, buf_, json::Layout::pretty, 2);
  ++count_;
  return maybe_flush();
}

Status BundleWriter::finish() {
  if (framing_ == OutputFraming::bundle) {
    if (!started_) {
      // An empty bundle: "objects" is omitted because a STIX list must not
      // be empty (§2.12).
      if (layout_ == json::Layout::pretty) {
        buf_ += "{\n  \"type\": \"bundle\",\n  \"id\": ";
        json::write_string(bundle_id_, buf_);
        buf_ += "\n}\n";
      } else {
        buf_ += compact_empty_bundle(bundle_id_);
      }
    } else if (layout_ == json::Layout::pretty) {
      buf_ += "\n  ]\n}\n";
    } else {
      buf_ += kCompactBundleTail;
    }
  }
  Status s = sink_.write(buf_);
  buf_.clear();
  return s;
}

BundleIdDigest::BundleIdDigest() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), fetched_sha256(), nullptr);
}

BundleIdDigest::~BundleIdDigest() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void BundleIdDigest::add(std::string_view id, std::string_view version) {
  auto* c = static_cast<EVP_MD_CTX*>(ctx_);
  EVP_DigestUpdate(c, id.data(), id.size());
  EVP_DigestUpdate(c, "\n", 1);
  EVP_DigestUpdate(c, version.data(), version.size());
  EVP_DigestUpdate(c, "\n", 1);
}

std::string BundleIdDigest::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  // A version-4 UUID whose pseudo-random bits come from the digest: the same
  // content gives the same id, and the id has the form STIX recommends for
  // bundles (§2.9).
  std::array<std::uint8_t, 16> b{};
  std::copy(md, md + 16, b.begin());
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  return "bundle--" + Uuid(b).to_string();
}

namespace {
constexpr std::size_t kSpoolChunk = 1U << 20;

}  // namespace

Result<std::unique_ptr<SpooledBundleWriter>> SpooledBundleWriter::create(Sink& sink, OutputFraming framing,
                                                                         const std::string& spool_dir) {
  int fd = -1;
  if (!spool_dir.empty()) {
    fd = open_unnamed_file(spool_dir);
    if (fd < 0) return sys_error(ErrorCategory::cannot_create, spool_dir, "cannot create a temporary file", errno);
  } else if (framing == OutputFraming::bundle) {
    return Error(ErrorCategory::internal, "SpooledBundleWriter: a bundle needs a spool directory");
  }
  return std::unique_ptr<SpooledBundleWriter>(new SpooledBundleWriter(sink, framing, spool_dir, fd));
}

SpooledBundleWriter::SpooledBundleWriter(Sink& sink, OutputFraming framing, std::string spool_dir, int fd)
    : sink_(sink), framing_(framing), spool_dir_(std::move(spool_dir)), fd_(fd) {
  buf_.reserve(kSpoolChunk + (1U << 16));
}

SpooledBundleWriter::~SpooledBundleWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status SpooledBundleWriter::flush() {
  if (fd_ < 0) {
    Status s = sink_.write(buf_);
    buf_.clear();
    return s;
  }
  std::string_view data = buf_;
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(ErrorCategory::io, spool_dir_, "cannot write a temporary file", errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  buf_.clear();
  return {};
}

void SpooledBundleWriter::begin_object(std::string_view id, std::string_view version) {
  // The spool holds what goes between the bundle's first and last line.
  if (framing_ == OutputFraming::bundle) {
    if (count_ != 0) buf_ += kCompactBundleSeparator;
    digest_.add(id, version);
  }
}

Status SpooledBundleWriter::end_object() {
  if (framing_ == OutputFraming::ndjson) buf_ += '\n';
  ++count_;
  return buf_.size() >= kSpoolChunk ? flush() : Status{};
}

Status SpooledBundleWriter::add(const json::Value& object, std::string_view id, std::string_view version) {
  if (finished_) return Error(ErrorCategory::internal, "SpooledBundleWriter: add after finish");
  begin_object(id, version);
  json::write(object, buf_);
  return end_object();
}

Status SpooledBundleWriter::add_serialized(std::string_view compact_object, std::string_view id,
                                           std::string_view version) {
  if (finished_) return Error(ErrorCategory::internal, "SpooledBundleWriter: add after finish");
  begin_object(id, version);
  buf_ += compact_object;
  return end_object();
}

Status SpooledBundleWriter::finish() {
  if (finished_) return Error(ErrorCategory::internal, "SpooledBundleWriter: finish twice");
  finished_ = true;
  CTI_TRY_STATUS(flush());
  if (fd_ < 0) return {};  // NDJSON straight to the sink: all written
  std::string head;
  if (framing_ == OutputFraming::bundle) {
    const std::string bundle_id = digest_.finish();
    if (count_ == 0) {
      head = compact_empty_bundle(bundle_id);
    } else {
      head = compact_bundle_head(bundle_id);
    }
  }
  if (!head.empty()) CTI_TRY_STATUS(sink_.write(head));
  if (::lseek(fd_, 0, SEEK_SET) != 0)
    return sys_error(ErrorCategory::io, spool_dir_, "cannot read a temporary file", errno);
  buf_.resize(kSpoolChunk);
  for (;;) {
    const ssize_t n = ::read(fd_, buf_.data(), buf_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(ErrorCategory::io, spool_dir_, "cannot read a temporary file", errno);
    }
    if (n == 0) break;
    CTI_TRY_STATUS(sink_.write(std::string_view(buf_.data(), static_cast<std::size_t>(n))));
  }
  ::close(fd_);
  fd_ = -1;
  buf_ = std::string();
  if (framing_ == OutputFraming::bundle && count_ != 0) return sink_.write(kCompactBundleTail);
  return {};
}

}  // namespace ctishare::stix
