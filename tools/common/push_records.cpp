#include "push_records.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include "ctishare/file.h"

namespace ctishare::tool {

Status append_push_record(const std::string& state_dir, const std::string& partner, const std::string& collection,
                          const std::vector<std::pair<std::string, std::string>>& accepted, const Timestamp& now) {
  if (accepted.empty()) return {};
  const std::string dir = state_dir + "/push";
  CTI_TRY_STATUS(make_directories(dir));
  const std::string path = dir + "/" + partner + ".tsv";
  std::string lines;
  for (const auto& [id, version] : accepted)
    lines += now.to_string() + "\t" + collection + "\t" + id + "\t" + version + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error(ErrorCategory::cannot_create, quote(path) + ": cannot open the push record");
  const bool ok = ::write(fd, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size()) && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok) return Error(ErrorCategory::io, quote(path) + ": cannot append to the push record");
  return {};
}

std::map<std::string, std::vector<Received>> read_push_records(const std::string& state_dir,
                                                               const std::set<std::string>& ids) {
  std::map<std::string, std::vector<Received>> out;
  std::error_code ec;
  for (const auto& file : std::filesystem::directory_iterator(state_dir + "/push", ec)) {
    if (file.path().extension() != ".tsv") continue;
    const std::string partner = file.path().stem().string();
    std::ifstream in(file.path());
    std::string line;
    while (std::getline(in, line)) {
      std::array<std::string, 4> f;
      std::size_t start = 0, n = 0;
      for (; n < 4; ++n) {
        const auto tab = line.find('\t', start);
        f[n] = line.substr(start, tab == std::string::npos ? std::string::npos : tab - start);
        if (tab == std::string::npos) break;
        start = tab + 1;
      }
      if (n != 3 || ids.count(f[2]) == 0) continue;
      auto& list = out[f[2]];
      auto it = std::find_if(list.begin(), list.end(),
                             [&](const Received& r) { return r.partner == partner && r.collection == f[1]; });
      if (it == list.end()) {
        list.push_back({partner, f[1], f[3]});
      } else {
        it->version = f[3];  // the latest line wins
      }
    }
  }
  return out;
}

}  // namespace ctishare::tool
