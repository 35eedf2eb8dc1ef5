// The TAXII 2.1 server as a pure function: an HTTP request (already
// authenticated by the transport) in, an HTTP response out. Sockets, TLS,
// authentication, limits on connections and shutdown are taxii-serve's; the
// protocol — endpoints, filters, paging, permissions, errors, media types —
// is here, tested without a network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctishare/taxii/store.h"
#include "ctishare/time.h"

namespace ctishare::taxii {

struct Header {
  std::string name;   // as received; compared case-insensitively
  std::string value;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", "DELETE", ...
  std::string target;  // path and query, as received: "/api1/collections/…/objects/?limit=10"
  std::vector<Header> headers;
  std::string body;
  std::string user;    // the authenticated user; "" when the request carried no credentials
};

// What a request did, for the audit log: set by the endpoints that read or
// write objects, empty for the others.
struct AuditRecord {
  std::string action;        // "objects.read", "manifest.read", "object.read", "versions.read",
                             // "objects.add", "object.delete"; "" when nothing was read or written
  std::string collection;    // the collection's id
  std::int64_t objects = -1;  // objects returned, stored (added or already there) or versions deleted
  std::int64_t failed = -1;   // objects.add: objects refused
};

struct HttpResponse {
  int status = 200;
  std::vector<Header> headers;  // Content-Type always set (the TAXII media type, errors included)
  std::string body;             // empty for 200 on DELETE
  AuditRecord audit;
};

// A TAXII error resource (SPEC 3.6.1) with the TAXII media type, for the
// transport's own refusals (413, 414, 429, 431, 503 ...), so they look
// exactly like the handler's.
HttpResponse error_response(int status, std::string_view title, std::string_view description = {});

struct CollectionConfig {
  std::string id;     // a UUID
  std::string alias;  // optional; usable in place of the id
  std::string title, description;
};

struct ApiRootConfig {
  std::string path;  // e.g. "api1": served at /api1/
  std::string title, description;
  std::vector<CollectionConfig> collections;
};

struct UserConfig {
  std::string name;
  std::vector<std::string> read, write;  // collection ids or aliases; "*" for all
};

struct ServerConfig {
  std::string title = "ctishare TAXII 2.1 server", description, contact;
  std::string default_api_root;  // path of the default root; the first one when empty
  std::vector<ApiRootConfig> api_roots;
  std::vector<UserConfig> users;
  std::uint64_t max_content_length = 10 * 1024 * 1024;  // advertised and enforced (413)
  std::size_t max_page_size = 1000;                       // server-side cap on limit
  std::int64_t next_token_lifetime = 24 * 3600;           // seconds a next token stays valid
  std::int64_t status_lifetime = 48 * 3600;               // seconds a status is kept after completion
  std::string challenge = "Basic realm=\"TAXII\", charset=\"UTF-8\"";  // WWW-Authenticate on 401
};

class Handler {
 public:
  // `paging_key` signs next tokens (HMAC-SHA256); keep it across restarts so
  // clients' tokens survive them. `store` and `clock` must outlive the
  // handler.
  Handler(ServerConfig config, Store& store, const Clock& clock, std::string paging_key);

  // Every response, errors included, is complete and has the TAXII media
  // type; storage failures become 500/503 error resources, never exceptions.
  HttpResponse handle(const HttpRequest& request);

 private:
  ServerConfig config_;
  Store& store_;
  const Clock& clock_;
  std::string key_;
};

}  // namespace ctishare::taxii
