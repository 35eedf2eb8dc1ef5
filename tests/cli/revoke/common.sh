# Shared by the revoke cases' setup: day 1, partner-b's new domain and the
# CERT's feed (a domain, a URL, an IP address) merged and published.
set -e
cfg=$DATA/merge/ctishare.toml
"$BIN/trust-score" --config "$cfg" --source partner-b --now 2026-12-01T04:20:00Z -o pb.json "$DATA/merge/new-domain.json"
"$BIN/trust-score" --config "$cfg" --source cert --now 2026-12-01T04:20:00Z -o cert.json "$DATA/merge/feed.json"
"$BIN/feed-merge" --config "$cfg" --store m.db --out-dir pub --now 2026-12-01T04:20:00Z pb.json cert.json
grep -qx account-verify-bank.example pub/domains.txt
