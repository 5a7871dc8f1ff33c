#!/usr/bin/env bash
# Builds Accord and plays its story on the embedded default (one hub process, SQLite files),
# printing each step. The demo's data directory is demo-data/ (made afresh on every run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/install-deps.sh"
echo "Building Accord (first build takes a few minutes)..."
"$here/scripts/build.sh" >/dev/null
bin="${ACCORD_BUILD_DIR:-$here/build}/hub"
accordctl="$bin/cli/accordctl"
data="$here/demo-data"
rm -rf "$data"
mkdir -p "$data"

if [ -t 1 ]; then bold=$'\033[1m'; plain=$'\033[0m'; else bold=""; plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say() { printf '   %s\n' "$*"; }

step "1. The hub's operator sets up its certificate authority"
say "Every partner will connect with a client certificate issued by this CA (mutual TLS)."
"$accordctl" ca init --data-dir "$data" --listen 127.0.0.1:0 | sed 's/^/   /'

step "2. The operator enrols the partners of a local early-help partnership"
say "Each gets a credentials bundle (client.crt, client.key mode 0600, ca.crt) to give to its IT team."
enrol() { "$accordctl" partner enrol --data-dir "$data" "$@" | sed 's/^/   /'; }
enrol --id ops --name "Accord Operations" --sector LOCAL_AUTHORITY --roles ADMIN
enrol --id oakfield-primary --name "Oakfield Primary School" --sector SCHOOL --roles REFERRER
enrol --id riverside-camhs --name "Riverside CAMHS" --sector HEALTH --roles PROVIDER,REFERRER
enrol --id county-early-help --name "County Early Help Team" --sector EARLY_HELP --roles PROVIDER,REFERRER
enrol --id brightside-mentoring --name "Brightside Mentoring" --sector VOLUNTARY --roles PROVIDER
enrol --id northside-young-carers --name "Northside Young Carers" --sector VOLUNTARY --roles PROVIDER
enrol --id county-dpo --name "County Council Data Protection Office" --sector LOCAL_AUTHORITY --roles DPO

step "3. Two partners' record systems are connected through shipped plugins, pinned by SHA-256"
say "Riverside CAMHS: fhir_health reads its FHIR R4 export (a Patient, two Conditions, an Observation)."
say "Northside Young Carers: csv_dropfolder writes referrals as CSV files and reads decisions back."
plugins_dir="${ACCORD_BUILD_DIR:-$here/build}/plugins"
fhir_so="$plugins_dir/fhir_health/fhir_health.so"
csv_so="$plugins_dir/csv_dropfolder/csv_dropfolder.so"
mkdir -p "$data/riverside-fhir" "$data/northside/outbound" "$data/northside/inbound"
cat > "$data/riverside-fhir/patient-RIO-20931.json" <<'JSON'
{"resourceType": "Patient", "id": "RIO-20931",
 "name": [{"family": "Smith", "given": ["Jordan"]}], "gender": "male", "birthDate": "2014-05-03",
 "address": [{"postalCode": "LS6 2AB"}]}
JSON
cat > "$data/riverside-fhir/conditions-RIO-20931.json" <<'JSON'
{"resourceType": "Bundle", "type": "collection", "entry": [
 {"resource": {"resourceType": "Condition", "id": "cond-anxiety", "subject": {"reference": "Patient/RIO-20931"},
  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
  "code": {"coding": [{"system": "http://snomed.info/sct", "code": "197480006", "display": "Anxiety disorder"}]}}},
 {"resource": {"resourceType": "Condition", "id": "cond-asthma", "subject": {"reference": "Patient/RIO-20931"},
  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
  "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195967001", "display": "Asthma"}]}}},
 {"resource": {"resourceType": "Observation", "id": "obs-height", "status": "final", "subject": {"reference": "Patient/RIO-20931"},
  "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body height"}]},
  "valueQuantity": {"value": 142, "unit": "cm"}}}]}
JSON
plugin_entry() {  # partner library config-json
  printf '{"partner": "%s", "library": "%s", "sha256": "%s", "statusPollIntervalMs": 500, "outboxInitialBackoffMs": 500, "config": %s}' \
    "$1" "$2" "$(sha256sum "$2" | cut -d' ' -f1)" "$3"
}
{
  head -n 1 "$data/hub.json"
  printf '  "plugins": [%s, %s],\n' \
    "$(plugin_entry riverside-camhs "$fhir_so" "{\"recordsFolder\": \"$data/riverside-fhir\"}")" \
    "$(plugin_entry northside-young-carers "$csv_so" "{\"outboundFolder\": \"$data/northside/outbound\", \"inboundFolder\": \"$data/northside/inbound\"}")"
  tail -n +2 "$data/hub.json"
} > "$data/hub.json.new" && mv "$data/hub.json.new" "$data/hub.json"
for so in "$fhir_so" "$csv_so"; do say "$(basename "$so")  sha256 $(sha256sum "$so" | cut -c1-16)…"; done

step "4. The hub starts (accord-hub --config $data/hub.json)"
"$bin/server/accord-hub" --config "$data/hub.json" 2>"$data/hub.log" &
hub_pid=$!
trap 'kill -TERM $hub_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do [ -s "$data/hub.addr" ] && break; kill -0 $hub_pid 2>/dev/null || break; sleep 0.1; done
[ -s "$data/hub.addr" ] || { echo "the hub did not start:"; cat "$data/hub.log"; exit 1; }
addr="$(cat "$data/hub.addr")"
say "Serving on $addr (mTLS; health checking and server reflection on)."

step "5. Oakfield Primary's system checks it can reach the hub with its own certificate"
"$accordctl" hub status --bundle "$data/bundles/oakfield-primary" --address "$addr" | sed 's/^/   /'

step "6. The operator records the partnership's information sharing agreements"
agree() { "$accordctl" agreement create --bundle "$data/bundles/ops" --address "$addr" "$@" | sed 's/^/   /'; }
until="$(date -u -d '+1 year' +%Y-%m-%d)"
agree --from SCHOOL --to partners/riverside-camhs --purposes REFERRAL,ASSESSMENT \
  --categories IDENTITY,CONTACT,EDUCATION,SEN,MENTAL_HEALTH --until "$until" --description "Schools to CAMHS referrals"
agree --from SCHOOL --to EARLY_HELP --purposes REFERRAL,MULTI_AGENCY_PLANNING \
  --categories IDENTITY,CONTACT,EDUCATION,ATTENDANCE,FAMILY_CONTEXT --until "$until" --description "Schools to Early Help"
agree --from SCHOOL --to partners/brightside-mentoring --purposes REFERRAL \
  --categories IDENTITY,CONTACT,EDUCATION --until "$until" --description "Schools to Brightside mentoring"
agree --from partners/brightside-mentoring --to SCHOOL --purposes REFERRAL \
  --categories IDENTITY --until "$until" --description "Brightside tells schools what it decided"
agree --from EARLY_HELP --to SCHOOL --purposes REFERRAL \
  --categories IDENTITY --until "$until" --description "Early Help tells schools what it decided"
agree --from partners/riverside-camhs --to EARLY_HELP --purposes ASSESSMENT \
  --categories IDENTITY,MENTAL_HEALTH --until "$until" --description "CAMHS records for early help assessments"
agree --from SCHOOL --to partners/northside-young-carers --purposes REFERRAL \
  --categories IDENTITY,FAMILY_CONTEXT --until "$until" --description "Schools to Northside Young Carers"
agree --from partners/northside-young-carers --to SCHOOL --purposes REFERRAL \
  --categories IDENTITY --until "$until" --description "Northside tells schools what it decided"

step "7. Only administrators may read or change the register: the school's attempt is refused"
if out=$("$accordctl" agreement list --bundle "$data/bundles/oakfield-primary" --address "$addr" 2>&1); then
  echo "unexpected: the school was allowed"; exit 1
fi
say "$out"

step "8. The operator suspends Brightside Mentoring; its very next call is refused"
"$accordctl" partner suspend --data-dir "$data" --id brightside-mentoring --reason "DSPT renewal overdue" | sed 's/^/   /'
if out=$("$accordctl" hub status --bundle "$data/bundles/brightside-mentoring" --address "$addr" 2>&1); then
  say "$out (health checks stay open to any TLS client)"
fi
if out=$("$accordctl" agreement list --bundle "$data/bundles/brightside-mentoring" --address "$addr" 2>&1); then
  echo "unexpected: a suspended partner was served"; exit 1
fi
say "$out"
"$accordctl" partner reinstate --data-dir "$data" --id brightside-mentoring | sed 's/^/   /'

step "9. The register as it stands"
"$accordctl" partner list --data-dir "$data" | sed 's/^/   /'

"${ACCORD_BUILD_DIR:-$here/build}/sdk/examples/accord-story" --data-dir "$data" --address "$addr"

step "31. Anyone holding the hub's public key can check the family's receipt, offline"
"$accordctl" consent verify-receipt "$data/receipts/jordan-consent.json" --public-key "$data/keys/signing.pub" | sed 's/^/   /'

step "32. The DPO keeps a signed tree head, then exports the whole sharing log"
say "The export holds every event's stored bytes and a signed tree head covering them."
mkdir -p "$data/dpo"
"$accordctl" audit tree-head --bundle "$data/bundles/county-dpo" --address "$addr" --out "$data/dpo/kept-head.json" | sed 's/^/   /'
"$accordctl" audit export --bundle "$data/bundles/county-dpo" --address "$addr" --out "$data/dpo/log-export.jsonl" | sed 's/^/   /'

step "33. The DPO checks the export offline, trusting only the hub's public key"
say "Recomputes the Merkle tree, checks the signature, proves the log only grew since the kept head,"
say "and shows the inclusion proof of Jordan's consent (event 2)."
"$accordctl" audit verify "$data/dpo/log-export.jsonl" --public-key "$data/keys/signing.pub" \
  --tree-head "$data/dpo/kept-head.json" --event 2 | sed 's/^/   /'

step "34. The hub shuts down gracefully (SIGTERM)"
kill -TERM $hub_pid
wait $hub_pid
trap - EXIT
grep -E 'event=(hub_serving|rpc_refused|sharing_agreement_created|consent_recorded|consent_withdrawn|service_published|referral_submitted|referral_changed|hub_stopped|store_closed)' "$data/hub.log" | sed 's/^/   /'

step "35. With the hub stopped, the DPO checks its database itself against the last signed head"
"$accordctl" audit verify --data-dir "$data" --tree-head "$data/dpo/kept-head.json" | sed 's/^/   /'

step "36. The retention sweep: whose details would be erased eight years from now (a dry run)"
say "hub.json's \"retention\" sets the period per data category, counted from each child's last use."
"$accordctl" subject erase --data-dir "$data" --expired --dry-run --as-of "$(date -u -d '+8 years' +%Y-%m-%d)" | sed 's/^/   /'
printf '\nDone. Data, bundles and the hub log are in %s\n' "$data"
