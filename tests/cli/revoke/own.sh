# Shared by the cases on our own indicators, after common.sh: stix-gen
# published two of our detections on day 1, account-verify-bank.example (on
# the blocklists) among them, with its state in the default state directory.
set -e
printf 'value,confidence\naccount-verify-bank.example,0.9\nsecure-login.net,0.92\n' > own.csv
"$BIN/stix-gen" --config "$cfg" --now 2026-12-01T04:00:00Z -o day1.json own.csv
test -s state/ctishare/stix-gen.state
