// The property tables of the STIX Cyber-observable Objects (§6) and of their
// predefined extensions and nested types. Only each type's own properties
// are listed; the common SCO properties of §3.2 (type, id, spec_version,
// object_marking_refs, granular_markings, defanged, extensions) are not.
//
// Source: the authoritative text, oasis-tcs/cti-stix2 spec/stix-v2.1.md
// (STIX Version 2.1 Errata 01), the property tables of §6.1-§6.18. Where
// the text and its artefacts disagree:
// - windows-process-ext: the text names the property "windows_title", the
//   AsciiDoc source, the JSON schema and python-stix2 "window_title"; both
//   are listed so that neither is reported as custom.
// - network-traffic byte and packet counts are "positive" in the text but
//   have no minimum in the schema; a count of 0 is accepted (min 0).
// - Ranges the text does not state but that are counts or sizes
//   (number_of_subkeys, message_body_length) have min 0 as well.
#include "stix/schema.h"

namespace ctishare::stix::schema {

namespace {

using K = Kind;

constexpr std::int64_t kPortMax = 65535;

Property req(std::string_view name, Kind kind) { return {.name = name, .kind = kind, .required = true}; }
Property opt(std::string_view name, Kind kind) { return {.name = name, .kind = kind}; }
Property vocab(std::string_view name, Kind kind, std::string_view vocabulary, bool required = false) {
  return {.name = name, .kind = kind, .required = required, .vocab = vocabulary};
}
Property hashes(std::string_view name) { return {.name = name, .kind = K::hashes, .vocab = "hash-algorithm-ov"}; }
Property ref(std::string_view name, std::vector<std::string_view> targets, bool required = false) {
  return {.name = name, .kind = K::identifier, .required = required, .targets = std::move(targets)};
}
Property refs(std::string_view name, std::vector<std::string_view> targets, bool required = false) {
  return {.name = name, .kind = K::identifier_list, .required = required, .targets = std::move(targets)};
}
// An integer of at least 0 (sizes, counts).
Property count(std::string_view name) { return {.name = name, .kind = K::integer, .min = 0}; }
Property port(std::string_view name) { return {.name = name, .kind = K::integer, .min = 0, .max = kPortMax}; }
Property nested(std::string_view name, Kind kind, const ObjectSchema& schema, bool required = false) {
  return {.name = name, .kind = kind, .required = required, .nested = &schema};
}

// The nested types and predefined extensions, built once; sco_types() and
// find_extension() point into these statics.
struct Tables {
  // §6.6.2
  ObjectSchema email_mime_part{"email-mime-part-type",
                               {opt("body", K::string), ref("body_raw_ref", {"artifact", "file"}),
                                opt("content_type", K::string), opt("content_disposition", K::string)}};
  // §6.7.3
  ObjectSchema alternate_data_stream{"alternate-data-stream-type",
                                     {req("name", K::string), hashes("hashes"), count("size")}};
  // §6.7.6
  ObjectSchema pe_optional_header{"windows-pe-optional-header-type",
                                  {opt("magic_hex", K::hex),
                                   opt("major_linker_version", K::integer),
                                   opt("minor_linker_version", K::integer),
                                   count("size_of_code"),
                                   count("size_of_initialized_data"),
                                   count("size_of_uninitialized_data"),
                                   opt("address_of_entry_point", K::integer),
                                   opt("base_of_code", K::integer),
                                   opt("base_of_data", K::integer),
                                   opt("image_base", K::integer),
                                   opt("section_alignment", K::integer),
                                   opt("file_alignment", K::integer),
                                   opt("major_os_version", K::integer),
                                   opt("minor_os_version", K::integer),
                                   opt("major_image_version", K::integer),
                                   opt("minor_image_version", K::integer),
                                   opt("major_subsystem_version", K::integer),
                                   opt("minor_subsystem_version", K::integer),
                                   opt("win32_version_value_hex", K::hex),
                                   count("size_of_image"),
                                   count("size_of_headers"),
                                   opt("checksum_hex", K::hex),
                                   opt("subsystem_hex", K::hex),
                                   opt("dll_characteristics_hex", K::hex),
                                   count("size_of_stack_reserve"),
                                   count("size_of_stack_commit"),
                                   count("size_of_heap_reserve"),
                                   count("size_of_heap_commit"),
                                   opt("loader_flags_hex", K::hex),
                                   opt("number_of_rva_and_sizes", K::integer),
                                   hashes("hashes")}};
  ObjectSchema pe_section{"windows-pe-section-type",
                          {req("name", K::string), count("size"), opt("entropy", K::number), hashes("hashes")}};
  // §6.17.2
  ObjectSchema registry_value{"windows-registry-value-type",
                              {opt("name", K::string), opt("data", K::string),
                               vocab("data_type", K::enumeration, "windows-registry-datatype-enum")}};
  // §6.18.2
  ObjectSchema x509_v3_extensions{
      "x509-v3-extensions-type",
      {opt("basic_constraints", K::string), opt("name_constraints", K::string), opt("policy_constraints", K::string),
       opt("key_usage", K::string), opt("extended_key_usage", K::string), opt("subject_key_identifier", K::string),
       opt("authority_key_identifier", K::string), opt("subject_alternative_name", K::string),
       opt("issuer_alternative_name", K::string), opt("subject_directory_attributes", K::string),
       opt("crl_distribution_points", K::string), opt("inhibit_any_policy", K::string),
       opt("private_key_usage_period_not_before", K::timestamp),
       opt("private_key_usage_period_not_after", K::timestamp), opt("certificate_policies", K::string),
       opt("policy_mappings", K::string)}};

  // Predefined extensions. §6.7.2-§6.7.6 (file)
  ObjectSchema archive_ext{"archive-ext",
                           {refs("contains_refs", {"file", "directory"}, true), opt("comment", K::string)}};
  ObjectSchema ntfs_ext{
      "ntfs-ext", {opt("sid", K::string), nested("alternate_data_streams", K::object_list, alternate_data_stream)}};
  ObjectSchema pdf_ext{"pdf-ext",
                       {opt("version", K::string), opt("is_optimized", K::boolean),
                        {.name = "document_info_dict", .kind = K::dictionary, .values = K::string}, opt("pdfid0", K::string), opt("pdfid1", K::string)}};
  ObjectSchema raster_image_ext{"raster-image-ext",
                                {opt("image_height", K::integer), opt("image_width", K::integer),
                                 opt("bits_per_pixel", K::integer), {.name = "exif_tags", .kind = K::dictionary, .values = K::scalar}}};
  ObjectSchema windows_pebinary_ext{
      "windows-pebinary-ext",
      {vocab("pe_type", K::open_vocab, "windows-pebinary-type-ov", true), opt("imphash", K::string),
       opt("machine_hex", K::hex), count("number_of_sections"), opt("time_date_stamp", K::timestamp),
       opt("pointer_to_symbol_table_hex", K::hex), count("number_of_symbols"), count("size_of_optional_header"),
       opt("characteristics_hex", K::hex), hashes("file_header_hashes"),
       nested("optional_header", K::object, pe_optional_header), nested("sections", K::object_list, pe_section)}};
  // §6.12.2-§6.12.5 (network-traffic)
  ObjectSchema http_request_ext{
      "http-request-ext",
      {req("request_method", K::string), req("request_value", K::string), opt("request_version", K::string),
       {.name = "request_header", .kind = K::dictionary, .values = K::string_list}, count("message_body_length"), ref("message_body_data_ref", {"artifact"})}};
  ObjectSchema icmp_ext{"icmp-ext", {req("icmp_type_hex", K::hex), req("icmp_code_hex", K::hex)}};
  ObjectSchema socket_ext{
      "socket-ext",
      {vocab("address_family", K::enumeration, "network-socket-address-family-enum", true),
       opt("is_blocking", K::boolean), opt("is_listening", K::boolean), {.name = "options", .kind = K::dictionary, .values = K::integer},
       vocab("socket_type", K::enumeration, "network-socket-type-enum"), count("socket_descriptor"),
       opt("socket_handle", K::integer)}};
  ObjectSchema tcp_ext{"tcp-ext", {opt("src_flags_hex", K::hex), opt("dst_flags_hex", K::hex)}};
  // §6.13.2-§6.13.3 (process)
  ObjectSchema windows_process_ext{
      "windows-process-ext",
      {opt("aslr_enabled", K::boolean), opt("dep_enabled", K::boolean), opt("priority", K::string),
       opt("owner_sid", K::string), opt("window_title", K::string), opt("windows_title", K::string),
       opt("startup_info", K::dictionary), vocab("integrity_level", K::enumeration, "windows-integrity-level-enum")}};
  ObjectSchema windows_service_ext{
      "windows-service-ext",
      {opt("service_name", K::string), opt("descriptions", K::string_list), opt("display_name", K::string),
       opt("group_name", K::string), vocab("start_type", K::enumeration, "windows-service-start-type-enum"),
       refs("service_dll_refs", {"file"}), vocab("service_type", K::enumeration, "windows-service-type-enum"),
       vocab("service_status", K::enumeration, "windows-service-status-enum")}};
  // §6.16.2 (user-account)
  ObjectSchema unix_account_ext{
      "unix-account-ext",
      {opt("gid", K::integer), opt("groups", K::string_list), opt("home_dir", K::string), opt("shell", K::string)}};

  struct Extension {
    std::string_view type;
    const ObjectSchema* schema;
  };
  std::vector<Extension> extensions = {
      {"file", &archive_ext},
      {"file", &ntfs_ext},
      {"file", &pdf_ext},
      {"file", &raster_image_ext},
      {"file", &windows_pebinary_ext},
      {"network-traffic", &http_request_ext},
      {"network-traffic", &icmp_ext},
      {"network-traffic", &socket_ext},
      {"network-traffic", &tcp_ext},
      {"process", &windows_process_ext},
      {"process", &windows_service_ext},
      {"user-account", &unix_account_ext},
  };

  std::vector<ObjectSchema> types = {
      // §6.1
      {"artifact",
       {opt("mime_type", K::string), opt("payload_bin", K::binary), opt("url", K::string), hashes("hashes"),
        vocab("encryption_algorithm", K::enumeration, "encryption-algorithm-enum"), opt("decryption_key", K::string)}},
      // §6.2
      {"autonomous-system",
       {{.name = "number", .kind = K::integer, .required = true, .min = 0},
        opt("name", K::string),
        opt("rir", K::string)}},
      // §6.3
      {"directory",
       {req("path", K::string), opt("path_enc", K::string), opt("ctime", K::timestamp), opt("mtime", K::timestamp),
        opt("atime", K::timestamp), refs("contains_refs", {"file", "directory"})}},
      // §6.4
      {"domain-name", {req("value", K::string), refs("resolves_to_refs", {"ipv4-addr", "ipv6-addr", "domain-name"})}},
      // §6.5
      {"email-addr",
       {req("value", K::string), opt("display_name", K::string), ref("belongs_to_ref", {"user-account"})}},
      // §6.6
      {"email-message",
       {req("is_multipart", K::boolean), opt("date", K::timestamp), opt("content_type", K::string),
        ref("from_ref", {"email-addr"}), ref("sender_ref", {"email-addr"}), refs("to_refs", {"email-addr"}),
        refs("cc_refs", {"email-addr"}), refs("bcc_refs", {"email-addr"}), opt("message_id", K::string),
        opt("subject", K::string), opt("received_lines", K::string_list),
        {.name = "additional_header_fields", .kind = K::dictionary, .values = K::string_list}, opt("body", K::string),
        nested("body_multipart", K::object_list, email_mime_part), ref("raw_email_ref", {"artifact"})}},
      // §6.7
      {"file",
       {hashes("hashes"), count("size"), opt("name", K::string), opt("name_enc", K::string),
        opt("magic_number_hex", K::hex), opt("mime_type", K::string), opt("ctime", K::timestamp),
        opt("mtime", K::timestamp), opt("atime", K::timestamp), ref("parent_directory_ref", {"directory"}),
        refs("contains_refs", {"@sco"}), ref("content_ref", {"artifact"})}},
      // §6.8
      {"ipv4-addr",
       {req("value", K::string), refs("resolves_to_refs", {"mac-addr"}),
        refs("belongs_to_refs", {"autonomous-system"})}},
      // §6.9
      {"ipv6-addr",
       {req("value", K::string), refs("resolves_to_refs", {"mac-addr"}),
        refs("belongs_to_refs", {"autonomous-system"})}},
      // §6.10
      {"mac-addr", {req("value", K::string)}},
      // §6.11
      {"mutex", {req("name", K::string)}},
      // §6.12
      {"network-traffic",
       {opt("start", K::timestamp), opt("end", K::timestamp), opt("is_active", K::boolean),
        ref("src_ref", {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"}),
        ref("dst_ref", {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"}), port("src_port"), port("dst_port"),
        req("protocols", K::string_list), count("src_byte_count"), count("dst_byte_count"), count("src_packets"),
        count("dst_packets"), {.name = "ipfix", .kind = K::dictionary, .values = K::scalar}, ref("src_payload_ref", {"artifact"}),
        ref("dst_payload_ref", {"artifact"}), refs("encapsulates_refs", {"network-traffic"}),
        ref("encapsulated_by_ref", {"network-traffic"})}},
      // §6.13
      {"process",
       {opt("is_hidden", K::boolean), opt("pid", K::integer), opt("created_time", K::timestamp), opt("cwd", K::string),
        opt("command_line", K::string), {.name = "environment_variables", .kind = K::dictionary, .values = K::string},
        refs("opened_connection_refs", {"network-traffic"}), ref("creator_user_ref", {"user-account"}),
        ref("image_ref", {"file"}), ref("parent_ref", {"process"}), refs("child_refs", {"process"})}},
      // §6.14
      {"software",
       {req("name", K::string), opt("cpe", K::string), opt("swid", K::string), opt("languages", K::language_list),
        opt("vendor", K::string), opt("version", K::string)}},
      // §6.15
      {"url", {req("value", K::string)}},
      // §6.16
      {"user-account",
       {opt("user_id", K::string), opt("credential", K::string), opt("account_login", K::string),
        vocab("account_type", K::open_vocab, "account-type-ov"), opt("display_name", K::string),
        opt("is_service_account", K::boolean), opt("is_privileged", K::boolean), opt("can_escalate_privs", K::boolean),
        opt("is_disabled", K::boolean), opt("account_created", K::timestamp), opt("account_expires", K::timestamp),
        opt("credential_last_changed", K::timestamp), opt("account_first_login", K::timestamp),
        opt("account_last_login", K::timestamp)}},
      // §6.17
      {"windows-registry-key",
       {opt("key", K::string), nested("values", K::object_list, registry_value), opt("modified_time", K::timestamp),
        ref("creator_user_ref", {"user-account"}), count("number_of_subkeys")}},
      // §6.18
      {"x509-certificate",
       {opt("is_self_signed", K::boolean), hashes("hashes"), opt("version", K::string), opt("serial_number", K::string),
        opt("signature_algorithm", K::string), opt("issuer", K::string), opt("validity_not_before", K::timestamp),
        opt("validity_not_after", K::timestamp), opt("subject", K::string),
        opt("subject_public_key_algorithm", K::string), opt("subject_public_key_modulus", K::string),
        opt("subject_public_key_exponent", K::integer), nested("x509_v3_extensions", K::object, x509_v3_extensions)}},
  };
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::vector<ObjectSchema>& sco_types() { return tables().types; }

const ObjectSchema* find_extension(std::string_view sco_type, std::string_view name) {
  for (const auto& e : tables().extensions)
    if (e.type == sco_type && e.schema->name == name) return e.schema;
  return nullptr;
}

}  // namespace ctishare::stix::schema
