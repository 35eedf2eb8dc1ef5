// What taxii-push and taxii-pull share: a partner as the client sees it
// (API root, collections, credentials loaded from their files, TLP
// ceiling), and the TAXII requests both make — the API root's information,
// the collections list, and JSON responses checked for being TAXII at all.
// Redirects are followed only within the API root's origin, so credentials
// never reach another scheme, host or port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/config.h"
#include "ctishare/json.h"
#include "ctishare/marking.h"
#include "ctishare/result.h"
#include "ctishare/taxii/client.h"

namespace ctishare::taxii {

// One partner's endpoint, ready for a Client.
struct Endpoint {
  std::string name;                      // partner name; for --url, the URL's host[:port]
  std::string api_root;                  // absolute, ending in '/'
  std::vector<std::string> collections;  // ids or aliases, as configured
  std::string auth;                      // the scheme, for messages ("basic", "mtls+apikey", "none")
  stix::Tlp max_tlp = stix::Tlp::amber;  // taxii-push sends nothing marked above it
  double trust = 0.3;
  bool push = false, pull = false;
  ClientSettings settings;               // base_url = api_root; secrets read from their files
  // How the credentials look in messages: the scheme and the user or the
  // masked secret ("basic user=bank-a", "apikey X-API-Key=abcd...wxyz").
  std::string describe_credentials() const;
};

// The endpoint of a configured partner. Checks that the scheme names the
// files it needs (basic: user and password_file; apikey: api_key_file;
// bearer: token_file; mtls: client_cert and client_key) and none it does not
// use, that max_tlp is a TLP level and the URL an http(s) URL, and reads the
// secrets (refused when group or others may read them). An empty auth means
// anonymous. Errors: config (78) naming the partner and key; permission (77)
// for open secret files; no_input (66) for missing ones.
Result<Endpoint> endpoint_for(const Partner& partner, const ClientSettings& base);

// ---- Responses ---------------------------------------------------------------

// The JSON body of a TAXII response that must be one (status 200 or 202
// already checked by the caller). Tolerates charset and other parameters,
// the versionless and deprecated TAXII types and plain application/json;
// refuses anything else (an HTML login page, a proxy's error page), bodies
// that are not a JSON object, and bodies over `limits`. Errors: protocol
// (76), naming the URL and what came instead.
Result<json::Value> taxii_json(const Response& response, const json::Limits& limits = {});

// The media-type half of taxii_json(), for callers that parse the body
// themselves.
Status check_taxii_media_type(const Response& response);

// Sends a request and follows redirects (301, 302, 303, 307, 308) that stay
// within the client's base origin, at most 5; a redirect to another scheme,
// host or port is not followed and is a protocol error (76) that names the
// target, so credentials are never sent there. 303 turns a POST into a GET.
Result<Response> request_same_origin(const Client& client, std::string_view method, std::string_view url,
                                     std::string_view body = {}, const RequestOptions& options = {});

// What an API root says about itself (TAXII 4.2).
struct ApiRootInfo {
  std::string title;
  std::vector<std::string> versions;
  std::uint64_t max_content_length = 0;  // 0: the server did not say
};
// GET the API root. Errors: http_error() for unexpected statuses, protocol
// (76) for bodies that are not an API root resource.
Result<ApiRootInfo> get_api_root(const Client& client);

// One collection resource (TAXII 5.2).
struct CollectionInfo {
  std::string id, title, alias, description;
  bool can_read = false, can_write = false;
  std::vector<std::string> media_types;
};
// GET {api_root}/collections/. An empty list when the server has none.
Result<std::vector<CollectionInfo>> list_collections(const Client& client);

// The collection a configured name (id or alias) designates. Errors:
// config (78) when none matches ("… has no collection 'x'; it offers: …").
Result<CollectionInfo> find_collection(const std::vector<CollectionInfo>& collections, std::string_view name,
                                       std::string_view partner);

}  // namespace ctishare::taxii
