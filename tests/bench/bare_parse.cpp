// The floor for stix-validate's speed: read a file and parse it into a
// RapidJSON DOM, nothing else. scripts/bench times it beside stix-validate
// on the same bytes. Usage: ctishare_bare_parse FILE
#include <rapidjson/document.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ctishare_bare_parse FILE\n";
    return 64;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "ctishare_bare_parse: error: cannot open '" << argv[1] << "'\n";
    return 66;
  }
  in.seekg(0, std::ios::end);
  std::string text(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    std::cerr << "ctishare_bare_parse: error: not JSON at byte " << doc.GetErrorOffset() << "\n";
    return 65;
  }
  // Touch the result so the parse cannot be optimised away.
  std::printf("%u\n", doc.IsObject() && doc.HasMember("objects") && doc["objects"].IsArray() ? doc["objects"].Size() : 0U);
  return 0;
}
