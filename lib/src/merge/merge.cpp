// feed-merge's publication: the sanity gate, the RPZ serial, every output
// file written atomically only when it changes, and the store's record of
// what was published.
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_set>

#include "ctishare/file.h"
#include "ctishare/merge_store.h"
#include "merge/pipe.h"

namespace ctishare::merge {
namespace {

bool listed_type(stix::ObservableType t) {
  return t == stix::ObservableType::domain || t == stix::ObservableType::url || t == stix::ObservableType::ipv4 ||
         t == stix::ObservableType::ipv6;
}

std::string join_path(const std::string& dir, std::string_view name) {
  std::string p = dir;
  if (!p.empty() && p.back() != '/') p += '/';
  p += name;
  return p;
}

// Writes one file atomically; true when its bytes changed.
template <typename F>
Result<bool> write_output(const std::string& path, F&& render) {
  auto file = AtomicFile::create(path);
  if (!file) return std::move(file).error();
  CTI_TRY_STATUS(render(**file));
  return (*file)->commit();
}

// Removes the temporary files a killed run left beside our outputs
// (".NAME.tmp.XXXXXX"); callers hold the store's lock, so no live run owns
// them.
void remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    for (const auto& f : output_files()) {
      const std::string prefix = "." + std::string(f.name) + ".tmp.";
      if (name.rfind(prefix, 0) == 0) std::filesystem::remove(entry.path(), ec);
    }
    if (name.rfind(".removed.csv.tmp.", 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace

// Writes the blocklists for `rows` (the candidates; writers pick the
// blockable ones), commits `master` when given, rewrites removed.csv with
// `removed` first, and
// records the publication: the entries `gone` from the last one and the
// `fresh` ones.
Status write_lists(Store& store, const std::vector<ListRow>& rows, const std::vector<Entry>& gone,
                   const std::vector<Entry>& fresh, const std::vector<Removal>& removed, AtomicFile* master,
                   PublishOptions& options, PublishReport& report) {
  const Timestamp& now = options.exports.now;
  // Nothing is published before the inputs behind it are on the disk.
  CTI_TRY_STATUS(store.settle());
  // The RPZ serial moves only when the zone's records do.
  auto serial_text = store.meta("rpz_serial");
  if (!serial_text) return std::move(serial_text).error();
  std::uint32_t serial = 0;
  if (*serial_text) serial = static_cast<std::uint32_t>(std::strtoul((*serial_text)->c_str(), nullptr, 10));
  const std::string rpz_path = join_path(options.out_dir, "rpz.zone");
  std::string zone;  // rendered once; only the serial in its SOA may change
  {
    options.exports.rpz_serial = serial;
    StringSink rendered;
    CTI_TRY_STATUS(write_rpz(rendered, rows, options.exports));
    zone = rendered.take();
    // Compared where it lies (mapped), not read into megabytes of fresh
    // memory; a zone that cannot be read counts as changed.
    auto current = MappedInput::open(rpz_path);
    if (serial == 0 || !current || !*current || (*current)->text() != zone) {
      // Seconds since the epoch when that is larger (a readable serial),
      // else one more; RFC 1982 arithmetic makes either newer.
      const auto clock = static_cast<std::uint32_t>(std::max<std::int64_t>(now.unix_seconds(), 1));
      const std::uint32_t next = std::max(serial + 1, clock);
      const std::string was = " hostmaster.localhost. " + std::to_string(serial) + " ";
      const auto at = zone.find(was);
      if (at == std::string::npos) {
        zone.clear();  // rendered again below
      } else {
        zone.replace(at, was.size(), " hostmaster.localhost. " + std::to_string(next) + " ");
      }
      serial = next;
    }
  }
  options.exports.rpz_serial = serial;

  // The blocklists, and the commit of threat_master.csv (already written),
  // on two threads taking them in turn, the commit first: freeing the old
  // file's blocks takes 60 ms for 280 MB (outside the directory's lock, see
  // AtomicFile::commit), which the other thread spends on the lists. Each
  // writer only reads what they share once the zone above has filled
  // options.exports' lists of the publication (when it has not, one thread
  // does it all).
  std::vector<const OutputFile*> lists;
  for (const auto& f : output_files())
    if (f.blocklist) lists.push_back(&f);
  const std::size_t first_list = master != nullptr ? 1 : 0;
  const std::size_t jobs = first_list + lists.size();
  std::vector<std::optional<Result<bool>>> written(jobs);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < jobs;) {
      const std::string_view name =
          i < first_list ? std::string_view("threat_master.csv") : lists[i - first_list]->name;
      try {
        if (i < first_list) {
          written[i] = master->commit();
          continue;
        }
        const OutputFile& f = *lists[i - first_list];
        const bool rendered = f.write == &write_rpz && !zone.empty();
        written[i] = write_output(join_path(options.out_dir, f.name), [&](Sink& out) {
          return rendered ? out.write(zone) : f.write(out, rows, options.exports);
        });
      } catch (const std::bad_alloc&) {
        written[i] = Error(ErrorCategory::io, "out of memory while writing " + std::string(name));
      } catch (const std::exception& e) {
        written[i] = Error(ErrorCategory::internal, "while writing " + std::string(name) + ": " + e.what());
      }
    }
  };
  const bool shared = options.exports.canonical != nullptr && options.exports.zone_roots_of == &rows &&
                      options.exports.blockable_domains_of == &rows;
  std::thread helper;
  try {
    if (shared)
      helper = std::thread([&] {
        pthread_setname_np(pthread_self(), "fm-lists");
        work();
      });
  } catch (const std::system_error&) {
    // No second thread to be had: this one does it all.
  }
  work();
  if (helper.joinable()) helper.join();
  // Reported as they always were: the blocklists, then threat_master.csv.
  for (std::size_t i = first_list; i < jobs; ++i) {
    if (!*written[i]) return std::move(*written[i]).error();
    if (**written[i]) report.changed.emplace_back(lists[i - first_list]->name);
  }
  if (first_list != 0) {
    if (!*written[0]) return std::move(*written[0]).error();
    if (**written[0]) report.changed.emplace_back("threat_master.csv");
  }

  // removed.csv: this run's removals first, then those still remembered.
  auto remembered = store.removals();
  if (!remembered) return std::move(remembered).error();
  const Timestamp forget_before =
      now.plus_seconds(-static_cast<std::int64_t>(std::llround(options.removed_days * 86400.0)));
  const std::string forget_text = Timestamp::from_unix(forget_before.unix_seconds(), 0, 0).to_string();
  std::vector<Removal> all = removed;
  for (auto& r : *remembered)
    if (r.removed_at >= forget_text) all.push_back(std::move(r));
  auto changed = write_output(join_path(options.out_dir, "removed.csv"),
                              [&](Sink& out) { return write_removed_csv(out, all, options.exports); });
  if (!changed) return std::move(changed).error();
  if (*changed) report.changed.emplace_back("removed.csv");

  return store.publish(gone, fresh, removed, forget_before, {{"rpz_serial", std::to_string(serial)}});
}

Result<PublishReport> publish(Store& store, const MergePolicy& policy, PublishOptions options) {
  PublishReport report;
  const Timestamp& now = options.exports.now;
  auto old = store.published();
  if (!old) return std::move(old).error();

  // One pass over the rows: threat_master.csv is written as they come (to
  // its temporary file: nothing is published before the gate), the rows
  // that may block are kept for the blocklists, and the rows of entries
  // published last time are noted for removed.csv.
  remove_stale_temporaries(options.out_dir);
  // Hundreds of megabytes written once and synced: straight to the disk.
  auto master = AtomicFile::create(join_path(options.out_dir, "threat_master.csv"), AtomicFile::Caching::direct);
  if (!master) return std::move(master).error();
  std::vector<ListRow> rows;                         // the candidates for the blocklists
  rows.reserve(old->size() + old->size() / 8);       // about as many as last time
  std::vector<std::pair<Entry, std::string>> noted;  // entries published last time: status, reason
  std::vector<bool> canonical_flags;                 // canonical_row() of each of `rows`
  std::string buffer(master_csv_header());
  auto was = old->begin();  // rows come in Entry order: a walk, not a search per row
  const auto take = [&](Row& r) -> Status {
    ++report.rows;
    ++report.actions[static_cast<int>(r.action)];
    append_master_csv_row(buffer, r, options.exports);
    if (buffer.size() >= (1U << 20)) {
      Status written = (*master)->write(buffer);
      if (!written) return written;
      buffer.clear();
    }
    const bool candidate = listed_type(r.type) && r.action == trust::Action::block && r.status == RowStatus::active;
    // (A candidate that leaves the lists does so for blockable()'s reason,
    // found below; only the others need theirs kept.)
    const auto before = [&](const Entry& e) { return e.type != r.type ? e.type < r.type : e.value < r.value; };
    while (was != old->end() && before(*was)) ++was;
    if (!candidate && was != old->end() && was->type == r.type && was->value == r.value)
      noted.emplace_back(*was, std::string(status_name(r.status)) + "\t" + std::string(trust::action_name(r.action)) +
                                   ": " + r.reason);
    if (candidate) {
      // The blocklists read only these (republish() builds the same).
      ListRow& kept = rows.emplace_back();
      kept.type = r.type;
      kept.value = r.value;
      kept.action = r.action;
      kept.status = r.status;
      // Classified again here, beside the scan, not after it.
      canonical_flags.push_back(canonical_row(kept));
    }
    return {};
  };
  // Computing the rows (the store's scan and the scoring) and writing them
  // each take about half the time: two threads, the rows going from one to
  // the other in batches.
  detail::BatchPipe<Row> pipe(512);
  const Status published = detail::run_pipe(
      pipe, "fm-csv",
      [&] {
        return store.scan_rows(policy, now, [&](Row&& r) -> Status {
          Row* slot = pipe.slot();
          if (slot == nullptr) return Error(ErrorCategory::io, "stopped");  // the writer's error is reported
          // Swapped, not copied: the slot's strings from an earlier batch
          // go back to the scan to be filled again.
          std::swap(*slot, r);
          pipe.commit();
          return {};
        });
      },
      take, "writing threat_master.csv");
  if (!published) return std::move(published).error();
  CTI_TRY_STATUS((*master)->write(buffer));
  buffer.clear();
  // Its bytes went straight to the disk, but not the file system's record
  // of them: synced while the blocklists are worked out, so the first
  // commit below does not wait for it.
  CTI_TRY_STATUS((*master)->start_sync());
  std::unordered_set<const ListRow*> canonical;
  canonical.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (canonical_flags[i]) canonical.insert(&rows[i]);
  options.exports.canonical = &canonical;

  // What the blocklists will hold (rows come sorted by type, then value,
  // as Entry sorts).
  std::vector<Entry> entries;
  for (const auto& r : rows)
    if (blockable(r, options.exports)) entries.push_back(Entry{r.type, r.value});
  std::vector<Entry> lost, gained;
  std::set_difference(old->begin(), old->end(), entries.begin(), entries.end(), std::back_inserter(lost));
  std::set_difference(entries.begin(), entries.end(), old->begin(), old->end(), std::back_inserter(gained));
  report.entries = entries.size();
  report.added = gained.size();
  report.removed = lost.size();

  // The sanity gate: an empty or truncated upstream must not empty the
  // blocklists.
  const double share = old->empty() ? 0.0 : 100.0 * static_cast<double>(lost.size()) / static_cast<double>(old->size());
  if (!options.force && static_cast<double>(lost.size()) > options.max_loss_count && share > options.max_loss_percent) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%", share);
    return Error(ErrorCategory::data,
                 "refusing to publish: the blocklists would lose " + std::to_string(lost.size()) + " of their " +
                     std::to_string(old->size()) + " entries (" + pct +
                     ") at once, more than merge.max_loss_percent (" +
                     std::to_string(static_cast<int>(options.max_loss_percent)) + "%) and merge.max_loss_count (" +
                     std::to_string(static_cast<int>(options.max_loss_count)) +
                     "); the previous files are kept; check the inputs, then run again with --force if this is right");
  }

  // Why each lost entry left.
  std::vector<Removal> removed;
  // Whole seconds: removed.csv compares and sorts these as text.
  const std::string now_text = Timestamp::from_unix(now.unix_seconds(), 0, 0).to_string();
  for (const auto& e : lost) {
    Removal r{e.type, e.value, now_text, "", "no longer reported by any source"};
    auto row = std::lower_bound(rows.begin(), rows.end(), e, [](const ListRow& a, const Entry& x) {
      return a.type != x.type ? a.type < x.type : a.value < x.value;
    });
    if (row != rows.end() && row->type == e.type && row->value == e.value) {
      // A candidate, so active: lost because blockable() refused it.
      r.status = std::string(status_name(row->status));
      if (std::string why; !blockable(*row, options.exports, &why)) r.reason = why;
    } else if (auto it = std::lower_bound(
                   noted.begin(), noted.end(), e,
                   [](const std::pair<Entry, std::string>& n, const Entry& x) { return n.first < x; });
               it != noted.end() && it->first == e) {
      const auto tab = it->second.find('\t');
      r.status = it->second.substr(0, tab);
      r.reason = it->second.substr(tab + 1);
    }
    removed.push_back(std::move(r));
  }

  CTI_TRY_STATUS(write_lists(store, rows, lost, gained, removed, master->get(), options, report));
  return report;
}

Result<PublishReport> republish(Store& store, const MergePolicy& policy, PublishOptions options,
                                const std::vector<Entry>& touched, std::vector<Entry> published) {
  PublishReport report;
  remove_stale_temporaries(options.out_dir);
  // The touched values, scored again; every other entry stays as published
  // (it passed every check then, and nothing about it changed).
  std::vector<Entry> wanted;
  for (const auto& e : touched)
    if (std::binary_search(published.begin(), published.end(), e)) wanted.push_back(e);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<Row> fresh;
  CTI_TRY_STATUS(store.scan_rows(
      policy, options.exports.now,
      [&](Row&& r) -> Status {
        fresh.push_back(std::move(r));
        return {};
      },
      &wanted));
  // The rows of the entries that stay; their values move out of
  // `published`, which is not needed after this.
  std::vector<ListRow> rows;
  rows.reserve(published.size());
  std::vector<Entry> gone;
  std::vector<Removal> removed;
  const std::string now_text = Timestamp::from_unix(options.exports.now.unix_seconds(), 0, 0).to_string();
  const auto remove = [&](Entry&& e, std::string status, std::string reason) {
    removed.push_back(Removal{e.type, e.value, now_text, std::move(status), std::move(reason)});
    gone.push_back(std::move(e));
  };
  auto f = fresh.begin();
  for (auto& e : published) {
    while (f != fresh.end() && Entry{f->type, f->value} < e) ++f;
    if (f != fresh.end() && f->type == e.type && f->value == e.value) {
      if (f->action == trust::Action::block && f->status == RowStatus::active) {
        rows.push_back(std::move(*f));  // what the blocklists read of it
      } else {
        remove(std::move(e), std::string(status_name(f->status)),
               std::string(trust::action_name(f->action)) + ": " + f->reason);
      }
      continue;
    }
    if (std::binary_search(wanted.begin(), wanted.end(), e)) {
      remove(std::move(e), "", "no longer reported by any source");
      continue;
    }
    ListRow& r = rows.emplace_back();
    r.type = e.type;
    r.value = std::move(e.value);
    r.action = trust::Action::block;
    r.status = RowStatus::active;
  }
  std::unordered_set<const ListRow*> verified;
  verified.reserve(rows.size());
  for (const auto& r : rows) verified.insert(&r);
  options.exports.canonical = &verified;
  // The allowlist may have grown since: it still vetoes.
  std::size_t kept = 0;
  for (const auto& r : rows) {
    std::string why;
    if (blockable(r, options.exports, &why)) {
      ++kept;
    } else {
      remove(Entry{r.type, r.value}, "allowlisted", std::move(why));
    }
  }
  std::sort(gone.begin(), gone.end());
  report.entries = kept;
  report.removed = removed.size();
  CTI_TRY_STATUS(write_lists(store, rows, gone, {}, removed, nullptr, options, report));
  return report;
}

}  // namespace ctishare::merge
