#include "hub/cli/accordctl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <iostream>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include <grpcpp/grpcpp.h>

#include "accord/sdk/client.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/directory.grpc.pb.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "hub/audit/consent_receipt.h"
#include "hub/audit/log_verify.h"
#include "hub/audit/merkle.h"
#include "hub/audit/tree_head.h"
#include "hub/cli/flags.h"
#include "hub/domain/outbox.h"
#include "hub/domain/referral.h"
#include "hub/domain/validation.h"
#include "hub/security/ca.h"
#include "hub/security/files.h"
#include "hub/server/config.h"
#include "hub/store/store.h"
#include "plugins/openreferral_directory/openreferral.h"

namespace accord::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage = R"(usage: accordctl COMMAND [flags]

Set up a hub:
  ca init --data-dir DIR [--hostname NAME,...] [--listen HOST:PORT]
      Creates the hub's certificate authority, its server certificate, hub.json and the database.

Partners (on the hub's data directory; take effect on the partner's very next call):
  partner enrol --data-dir DIR --name "NAME" --sector SECTOR --roles ROLE[,ROLE...]
                [--id ID] [--out BUNDLE_DIR] [--valid-days N]
      Registers a partner and writes its credentials bundle (client.crt, client.key, ca.crt).
      SECTOR: SCHOOL HEALTH EARLY_HELP SOCIAL_CARE VOLUNTARY LOCAL_AUTHORITY
      ROLE:   REFERRER PROVIDER DPO ADMIN
  partner list --data-dir DIR
  partner suspend --data-dir DIR --id ID --reason "WHY"
  partner reinstate --data-dir DIR --id ID
  partner revoke --data-dir DIR --id ID --reason "WHY"      (final)

Subjects (on the hub's data directory):
  subject erase --data-dir DIR --id SUBJECT_ID --reason "WHY"
      Erases a child's personal details: destroys the subject's key (its logged events' details
      become unreadable while every proof still verifies), deletes its person-index records,
      identifiers and family links, and logs SUBJECT_ERASED.
  subject erase --data-dir DIR --expired [--dry-run] [--as-of YYYY-MM-DD]
      The retention sweep: erases, as above, every child whose retention period (hub.json
      "retention", per data category, counted from the last sharing event that used it) has
      ended by now or by --as-of. --dry-run lists them with their dates and erases nothing.

The referral outbox (on the hub's data directory; the running hub picks changes up):
  outbox list --data-dir DIR [--state PENDING|DELIVERED|DEAD|CANCELLED|SKIPPED]
      Referral deliveries to partners' systems through their plugins: state, attempts, the
      next attempt, the last error.
  outbox redrive --data-dir DIR --id ITEM
      Puts a dead-lettered (DEAD) delivery back in the queue, due now, its attempts reset.

A running hub (over mTLS, as the partner whose credentials bundle is given):
  hub status --bundle BUNDLE_DIR [--address HOST:PORT]
      Checks that the hub answers and is serving.
  agreement create --bundle ADMIN_BUNDLE --from PARTY --to PARTY --purposes P[,P...]
                   --categories C[,C...] --until YYYY-MM-DD [--description TEXT] [--address HOST:PORT]
      Records a sharing agreement. PARTY is a sector (e.g. SCHOOL) or partners/ID.
      P: REFERRAL ASSESSMENT MULTI_AGENCY_PLANNING SERVICE_DELIVERY OUTCOME_MONITORING
      C: IDENTITY CONTACT EDUCATION ATTENDANCE SEN HEALTH MENTAL_HEALTH FAMILY_CONTEXT
         SOCIAL_CARE SAFEGUARDING
  agreement list --bundle ADMIN_BUNDLE [--address HOST:PORT]

The sharing log (as a DPO partner; every call is itself logged):
  audit export --bundle DPO_BUNDLE --out FILE [--address HOST:PORT]
      Writes every event's stored bytes then the signed tree head covering them, one
      accord.v1.ExportEventsResponse per line in proto JSON (bytes in base64).
  audit tree-head --bundle DPO_BUNDLE [--out FILE] [--address HOST:PORT]
      Takes a signed tree head now (accord.v1.SignedTreeHead in JSON). Keep it: a later
      `audit verify --tree-head FILE` proves the log only grew since.

The service directory (as a provider partner; Open Referral UK / HSDS 3.0 JSON):
  directory import FILE --bundle PROVIDER_BUNDLE [--address HOST:PORT] [--dry-run]
                   [--max-level LEVEL] [--default-area PREFIX|GSS_CODE[,...]]
      Maps each service in FILE (a page of services, an ORUK page, an array or one service)
      onto the directory and publishes it with DirectoryService.PublishService under its Open
      Referral id, as the provider whose bundle is given; running it again republishes the same
      services. Prints every mapping issue as "path: message", progress on large files, and a
      summary: published, refused by the hub (with the hub's error), left out by the mapping.
      LEVEL: the highest level of need the services take (UNIVERSAL ADDITIONAL TARGETED
      SPECIALIST or 1-4; default TARGETED). --default-area: postcode prefixes and/or ONS local
      authority codes for services whose areas name neither. --dry-run maps and reports only.
      Exit 0 when every mappable service was published, 1 when the hub refused any, 2 on bad
      usage or an unreadable file.
  directory export --bundle BUNDLE --out FILE (--postcode POSTCODE | --local-authority GSS_CODE)
                   [--address HOST:PORT]
      Writes the directory's services as an HSDS 3.0 page of services, which `directory import`
      reads back. The directory has no listing call: this exports the services found by
      searches for every need type, age (0-25) and level of need in the area given, near misses
      included (a service reaches the export when it serves that area or is open to referrals).

Offline (no hub needed):
  consent verify-receipt RECEIPT.json --public-key SIGNING.pub
      Checks a consent receipt (accord.v1.ConsentReceipt in JSON) against the hub's public key
      (keys/signing.pub in the hub's data directory) and prints what was consented to.
  audit verify EXPORT --public-key SIGNING.pub [--tree-head KEPT.json] [--event SEQ]
      Recomputes the Merkle tree over the export's records and checks: every record parses and
      sits at its own sequence, the root equals the export's signed tree head, the signature
      verifies. --tree-head: a head kept earlier must be the root of the log's first tree_size
      events (the log only grew). --event: also shows that event's inclusion proof against the
      export's head (and the kept head), and the consistency proof between the two heads.
  audit verify --data-dir DIR [--public-key SIGNING.pub] [--tree-head KEPT.json]
      The same checks on a hub's database, against its latest saved tree head, plus every stored
      subtree hash against its recomputation. The public key defaults to DIR/keys/signing.pub;
      a copy the DPO keeps elsewhere is stronger evidence. Exit 0 with a one-line summary when
      the log is intact; 1 with each problem found (altered, missing, reordered or removed events,
      a replaced tree head, altered stored hashes) otherwise.
)";

// The data directory's layout, shared with the hub through hub.json.
struct Layout {
  fs::path root;
  fs::path ca_cert() const { return root / "ca" / "ca.crt"; }
  fs::path ca_key() const { return root / "ca" / "ca.key"; }
  fs::path hub_cert() const { return root / "tls" / "hub.crt"; }
  fs::path hub_key() const { return root / "tls" / "hub.key"; }
  fs::path config() const { return root / "hub.json"; }
  fs::path database() const { return root / "accord.db"; }
  fs::path address() const { return root / "hub.addr"; }
  fs::path signing_key() const { return root / "keys" / "signing.key"; }
  fs::path signing_public_key() const { return root / "keys" / "signing.pub"; }
};

absl::StatusOr<Layout> DataDir(const Flags& flags) {
  absl::StatusOr<std::string> dir = flags.Require("data-dir");
  if (!dir.ok()) return dir.status();
  return Layout{fs::absolute(*dir)};
}

template <typename Enum>
absl::StatusOr<Enum> ParseEnum(const std::string& text, const std::string& prefix,
                               bool (*parse)(const std::string&, Enum*), const std::string& flag) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (upper.rfind(prefix, 0) != 0) upper = prefix + upper;
  Enum value{};
  if (!parse(upper, &value) || static_cast<int>(value) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": unknown value \"", text, "\""));
  }
  return value;
}

absl::StatusOr<absl::Time> ParseDay(const std::string& text, const std::string& flag) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": \"", text, "\" is not a date (YYYY-MM-DD)"));
  }
  return t;
}

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

absl::StatusOr<security::CertificateAuthority> LoadCa(const Layout& layout) {
  auto cert = security::ReadFile(layout.ca_cert());
  if (!cert.ok()) return absl::FailedPreconditionError(absl::StrCat(cert.status().message(), " (run `accordctl ca init` first)"));
  auto key = security::ReadFile(layout.ca_key());
  if (!key.ok()) return key.status();
  return security::CertificateAuthority::FromPem(*cert, *key);
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenStore(const Layout& layout) {
  if (!fs::exists(layout.ca_cert())) {
    return absl::FailedPreconditionError(absl::StrCat(layout.root.string(), " is not a hub data directory (run `accordctl ca init` first)"));
  }
  return store::OpenSqliteStore(layout.database());
}

absl::Status MakePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  ::chmod(dir.c_str(), 0700);
  return absl::OkStatus();
}

absl::Status CaInit(const Flags& flags) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  if (fs::exists(layout->ca_key())) {
    return absl::AlreadyExistsError(absl::StrCat(layout->ca_key().string(),
                                                 " exists: this hub already has a CA (it is never overwritten)"));
  }
  std::string listen = flags.Get("listen", "127.0.0.1:7443");
  std::vector<std::string> hostnames = absl::StrSplit(flags.Get("hostname", "localhost"), ',', absl::SkipEmpty());
  for (const fs::path& dir : {layout->root / "ca", layout->root / "tls", layout->root / "keys"}) {
    if (absl::Status s = MakePrivateDir(dir); !s.ok()) return s;
  }
  absl::Time now = absl::Now();
  auto ca = security::CertificateAuthority::Create("Accord hub CA", now, absl::Hours(24 * 365 * 10));
  if (!ca.ok()) return ca.status();
  security::CertificateProfile server;
  server.common_name = hostnames.empty() ? "localhost" : hostnames.front();
  server.server = true;
  server.dns_names = hostnames;
  server.ip_addresses = {"127.0.0.1", "::1"};
  server.not_before = now - absl::Minutes(5);
  server.not_after = now + absl::Hours(24 * 365 * 2);
  auto hub_cert = ca->Issue(server);
  if (!hub_cert.ok()) return hub_cert.status();

  for (auto [path, content, mode] :
       {std::tuple{layout->ca_key(), ca->private_key_pem(), 0600}, std::tuple{layout->ca_cert(), ca->certificate_pem(), 0644},
        std::tuple{layout->hub_key(), hub_cert->private_key_pem, 0600},
        std::tuple{layout->hub_cert(), hub_cert->certificate_pem, 0644}}) {
    if (absl::Status s = security::WriteFileAtomically(path, content, static_cast<mode_t>(mode)); !s.ok()) return s;
  }
  auto signing = audit::SigningKey::Generate();
  if (!signing.ok()) return signing.status();
  auto signing_pem = signing->ToPem();
  auto public_pem = signing->PublicKey()->ToPem();
  if (!signing_pem.ok() || !public_pem.ok()) return absl::InternalError("cannot encode the signing key");
  if (absl::Status s = security::WriteFileAtomically(layout->signing_key(), *signing_pem, 0600); !s.ok()) return s;
  if (absl::Status s = security::WriteFileAtomically(layout->signing_public_key(), *public_pem, 0644); !s.ok()) {
    return s;
  }
  std::cout << "Created certificate authority     " << layout->ca_cert().string() << " (key "
            << layout->ca_key().string() << ", mode 0600)\n";
  std::cout << "Issued hub server certificate     " << layout->hub_cert().string() << " for "
            << absl::StrJoin(hostnames, ", ") << ", 127.0.0.1, ::1\n";
  std::cout << "Created hub signing key (Ed25519) " << layout->signing_key().string()
            << " — public key for receipts and tree heads: " << layout->signing_public_key().string() << "\n";

  if (!fs::exists(layout->config())) {
    std::string config = absl::StrCat(R"({
  "listen_address": ")", listen, R"(",
  "data_dir": ".",
  "tls": {
    "server_cert_file": "tls/hub.crt",
    "server_key_file": "tls/hub.key",
    "ca_cert_file": "ca/ca.crt",
    "ca_key_file": "ca/ca.key"
  },
  "signing_key_file": "keys/signing.key",
  "logging": { "format": "text" }
}
)");
    if (absl::Status s = security::WriteFileAtomically(layout->config(), config, 0644); !s.ok()) return s;
    std::cout << "Wrote hub configuration           " << layout->config().string() << "\n";
  }
  auto store = store::OpenSqliteStore(layout->database());
  if (!store.ok()) return store.status();
  std::cout << "Created partner register          " << layout->database().string() << "\n";
  return absl::OkStatus();
}

absl::Status PartnerEnrol(const Flags& flags) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  auto name = flags.Require("name");
  if (!name.ok()) return name.status();
  auto sector_text = flags.Require("sector");
  if (!sector_text.ok()) return sector_text.status();
  auto sector = ParseEnum<v1::Sector>(*sector_text, "SECTOR_", &v1::Sector_Parse, "sector");
  if (!sector.ok()) return sector.status();
  auto roles_text = flags.Require("roles");
  if (!roles_text.ok()) return roles_text.status();

  domain::Partner partner;
  partner.display_name = *name;
  partner.sector = *sector;
  for (absl::string_view r : absl::StrSplit(*roles_text, ',', absl::SkipEmpty())) {
    auto role = ParseEnum<v1::Role>(std::string(absl::StripAsciiWhitespace(r)), "ROLE_", &v1::Role_Parse, "roles");
    if (!role.ok()) return role.status();
    partner.roles.push_back(*role);
  }
  if (absl::Status s = domain::ValidateNewPartner(partner); !s.ok()) return s;
  partner.id = flags.Get("id", domain::PartnerIdFromName(partner.display_name));
  if (absl::Status s = domain::ValidatePartnerId(partner.id, "--id"); !s.ok()) return s;
  int valid_days = 365;
  if (flags.Has("valid-days") && (!absl::SimpleAtoi(flags.Get("valid-days"), &valid_days) || valid_days < 1)) {
    return absl::InvalidArgumentError("--valid-days: must be a positive number");
  }

  auto ca = LoadCa(*layout);
  if (!ca.ok()) return ca.status();
  auto store = OpenStore(*layout);
  if (!store.ok()) return store.status();
  partner.create_time = absl::Now();
  security::CertificateProfile profile;
  profile.common_name = partner.id;
  profile.not_before = partner.create_time - absl::Minutes(5);
  profile.not_after = partner.create_time + absl::Hours(24) * valid_days;
  auto issued = ca->Issue(profile);
  if (!issued.ok()) return issued.status();
  if (absl::Status s = (*store)->CreatePartnerWithCertificate(
          partner, {issued->serial_hex, partner.id, issued->not_after, false});
      !s.ok()) {
    return s;
  }

  fs::path out = flags.Has("out") ? fs::absolute(flags.Get("out")) : layout->root / "bundles" / partner.id;
  if (absl::Status s = MakePrivateDir(out); !s.ok()) return s;
  if (absl::Status s = security::WriteFileAtomically(out / "client.key", issued->private_key_pem, 0600); !s.ok()) return s;
  if (absl::Status s = security::WriteFileAtomically(out / "client.crt", issued->certificate_pem, 0644); !s.ok()) return s;
  if (absl::Status s = security::WriteFileAtomically(out / "ca.crt", ca->certificate_pem(), 0644); !s.ok()) return s;
  if (auto addr = security::ReadFile(layout->address()); addr.ok()) {
    if (absl::Status s = security::WriteFileAtomically(out / "hub.addr", *addr, 0644); !s.ok()) return s;
  }
  std::vector<std::string> role_names;
  for (auto r : partner.roles) role_names.push_back(v1::Role_Name(r).substr(5));
  std::cout << "Enrolled partner " << partner.id << " — " << partner.display_name << " ("
            << v1::Sector_Name(partner.sector).substr(7) << "; " << absl::StrJoin(role_names, ",")
            << "); credentials bundle: " << out.string() << "\n";
  return absl::OkStatus();
}

absl::Status PartnerList(const Flags& flags) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  auto store = OpenStore(*layout);
  if (!store.ok()) return store.status();
  std::string after;
  std::printf("%-32s %-10s %-16s %-24s %s\n", "ID", "STATE", "SECTOR", "ROLES", "NAME");
  for (;;) {
    auto page = (*store)->ListPartners(after, 200);
    if (!page.ok()) return page.status();
    for (const domain::Partner& p : *page) {
      std::vector<std::string> roles;
      for (auto r : p.roles) roles.push_back(v1::Role_Name(r).substr(5));
      std::printf("%-32s %-10s %-16s %-24s %s\n", p.id.c_str(), std::string(domain::PartnerStateName(p.state)).c_str(),
                  v1::Sector_Name(p.sector).substr(7).c_str(), absl::StrJoin(roles, ",").c_str(),
                  p.display_name.c_str());
    }
    if (page->size() < 200) break;
    after = page->back().id;
  }
  return absl::OkStatus();
}

absl::Status PartnerChangeState(const Flags& flags, const std::string& action) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  auto id = flags.Require("id");
  if (!id.ok()) return id.status();
  std::string reason = flags.Get("reason");
  if (action != "reinstate") {
    if (absl::Status s = domain::ValidateReason(reason, "--reason"); !s.ok()) return s;
  }
  auto store = OpenStore(*layout);
  if (!store.ok()) return store.status();
  absl::StatusOr<domain::Partner> p = action == "revoke" ? (*store)->RevokePartner(*id, reason)
                                                         : (*store)->SetPartnerSuspended(*id, action == "suspend", reason);
  if (!p.ok()) return p.status();
  std::cout << "Partner " << p->id << " is now " << domain::PartnerStateName(p->state)
            << (reason.empty() ? "" : " (" + reason + ")") << "\n";
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> HubChannel(const Flags& flags) {
  auto bundle = flags.Require("bundle");
  if (!bundle.ok()) return bundle.status();
  return sdk::Connect(*bundle, flags.Get("address"));
}

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

std::unique_ptr<grpc::ClientContext> CallContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

absl::StatusOr<v1::Party> ParseParty(const std::string& text, const std::string& flag) {
  v1::Party party;
  if (text.rfind("partners/", 0) == 0) {
    party.set_partner(text);
    return party;
  }
  auto sector = ParseEnum<v1::Sector>(text, "SECTOR_", &v1::Sector_Parse, flag);
  if (!sector.ok()) return sector.status();
  party.set_sector(*sector);
  return party;
}

std::string PartyText(const v1::Party& party) {
  return party.has_partner() ? party.partner() : "every " + v1::Sector_Name(party.sector()).substr(7) + " partner";
}

absl::Status AgreementCreate(const Flags& flags) {
  v1::CreateSharingAgreementRequest req;
  v1::SharingAgreement* a = req.mutable_sharing_agreement();
  for (auto [flag, party] : {std::pair{"from", a->mutable_discloser()}, std::pair{"to", a->mutable_recipient()}}) {
    auto text = flags.Require(flag);
    if (!text.ok()) return text.status();
    auto parsed = ParseParty(*text, flag);
    if (!parsed.ok()) return parsed.status();
    *party = *parsed;
  }
  auto purposes = flags.Require("purposes");
  if (!purposes.ok()) return purposes.status();
  for (absl::string_view p : absl::StrSplit(*purposes, ',', absl::SkipEmpty())) {
    auto purpose = ParseEnum<v1::Purpose>(std::string(p), "PURPOSE_", &v1::Purpose_Parse, "purposes");
    if (!purpose.ok()) return purpose.status();
    a->add_purposes(*purpose);
  }
  auto categories = flags.Require("categories");
  if (!categories.ok()) return categories.status();
  for (absl::string_view c : absl::StrSplit(*categories, ',', absl::SkipEmpty())) {
    auto category = ParseEnum<v1::DataCategory>(std::string(c), "DATA_CATEGORY_", &v1::DataCategory_Parse, "categories");
    if (!category.ok()) return category.status();
    a->add_data_categories(*category);
  }
  auto until_text = flags.Require("until");
  if (!until_text.ok()) return until_text.status();
  auto until = ParseDay(*until_text, "until");
  if (!until.ok()) return until.status();
  a->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(*until));
  a->set_description(flags.Get("description"));

  auto channel = HubChannel(flags);
  if (!channel.ok()) return channel.status();
  v1::CreateSharingAgreementResponse resp;
  grpc::Status s = v1::PartnerAdmin::NewStub(*channel)->CreateSharingAgreement(CallContext().get(), req, &resp);
  if (!s.ok()) return FromGrpc(s);
  const v1::SharingAgreement& made = resp.sharing_agreement();
  std::vector<std::string> cats;
  for (int c : made.data_categories()) cats.push_back(v1::DataCategory_Name(c).substr(14));
  std::vector<std::string> purps;
  for (int p : made.purposes()) purps.push_back(v1::Purpose_Name(p).substr(8));
  std::cout << "Recorded " << made.name() << ": " << PartyText(made.discloser()) << " → " << PartyText(made.recipient())
            << " may share " << absl::StrJoin(cats, ", ") << " for " << absl::StrJoin(purps, ", ") << " until "
            << *until_text << "\n";
  return absl::OkStatus();
}

absl::Status AgreementList(const Flags& flags) {
  auto channel = HubChannel(flags);
  if (!channel.ok()) return channel.status();
  auto stub = v1::PartnerAdmin::NewStub(*channel);
  v1::ListSharingAgreementsRequest req;
  do {
    v1::ListSharingAgreementsResponse resp;
    grpc::Status s = stub->ListSharingAgreements(CallContext().get(), req, &resp);
    if (!s.ok()) return FromGrpc(s);
    for (const v1::SharingAgreement& a : resp.sharing_agreements()) {
      std::cout << a.name() << "  " << PartyText(a.discloser()) << " → " << PartyText(a.recipient()) << "  ("
                << a.description() << ")\n";
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  return absl::OkStatus();
}

absl::Status HubStatus(const Flags& flags) {
  auto channel = HubChannel(flags);
  if (!channel.ok()) return channel.status();
  auto serving = sdk::CheckHealth(*channel);
  if (!serving.ok()) return absl::UnavailableError(absl::StrCat("hub did not answer: ", serving.status().message()));
  if (!*serving) return absl::UnavailableError("hub answered but is not serving");
  std::cout << "Hub is healthy (grpc.health.v1: SERVING) over mTLS\n";
  return absl::OkStatus();
}

absl::Status ConsentVerifyReceipt(const Flags& flags) {
  if (flags.positional().size() != 1) return absl::InvalidArgumentError("give exactly one receipt file");
  auto key_file = flags.Require("public-key");
  if (!key_file.ok()) return key_file.status();
  auto key_pem = security::ReadFile(*key_file);
  if (!key_pem.ok()) return key_pem.status();
  auto key = audit::VerifyingKey::FromPem(*key_pem);
  if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("--public-key: ", key.status().message()));
  auto text = security::ReadFile(flags.positional()[0]);
  if (!text.ok()) return text.status();
  v1::ConsentReceipt receipt;
  if (auto s = google::protobuf::util::JsonStringToMessage(*text, &receipt); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flags.positional()[0], ": not a consent receipt: ", s.ToString()));
  }
  auto payload = audit::VerifyConsentReceipt(receipt, *key);
  if (!payload.ok()) return payload.status();
  const v1::Consent& c = payload->consent();
  auto names = [](const auto& values, auto name_of, size_t prefix) {
    std::vector<std::string> out;
    for (int v : values) out.push_back(name_of(v).substr(prefix));
    return absl::StrJoin(out, ", ");
  };
  std::vector<std::string> recipients;
  for (const v1::Party& p : c.recipients()) recipients.push_back(PartyText(p));
  auto day = [](const google::protobuf::Timestamp& t) {
    return absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
  };
  std::cout << "Receipt verified: signed by the hub key " << receipt.key_id().substr(0, 16) << "…\n"
            << "  consent     " << c.name() << " about " << c.subject() << "\n"
            << "  given by    " << v1::ConsentGiver_Name(c.given_by()).substr(14) << "\n"
            << "  purposes    " << names(c.purposes(), [](int v) { return v1::Purpose_Name(v); }, 8) << "\n"
            << "  categories  " << names(c.data_categories(), [](int v) { return v1::DataCategory_Name(v); }, 14)
            << "\n"
            << "  recipients  " << absl::StrJoin(recipients, "; ") << "\n"
            << "  valid       " << day(c.valid_from()) << " until " << day(c.valid_until()) << "\n"
            << "  recorded by " << payload->recorder_display_name() << " (" << c.recorder() << ") on "
            << day(payload->issue_time()) << "\n"
            << "  evidence    " << c.evidence() << "\n";
  return absl::OkStatus();
}

// ---- Subjects --------------------------------------------------------------------------------

std::string EventCount(uint64_t n) { return absl::StrCat(n, n == 1 ? " event" : " events"); }

// The erasure event: the operator is not a partner, so no actor; the reason says why, never who
// the child is.
store::NewEvent ErasureEvent(const std::string& subject_id, absl::string_view reason) {
  store::NewEvent event;
  event.subject_id = subject_id;
  event.event.set_kind(v1::EVENT_KIND_SUBJECT_ERASED);
  event.event.set_subject(domain::SubjectName(subject_id));
  event.event.set_basis(v1::BASIS_NONE);
  event.event.add_reason_codes("ERASED");
  event.event.set_request(absl::StrCat("accordctl subject erase: ", reason));
  return event;
}

absl::Status SubjectEraseExpired(const Flags& flags, const Layout& layout) {
  if (flags.Has("id") || flags.Has("reason")) {
    return absl::InvalidArgumentError("--expired erases by the retention periods: give neither --id nor --reason");
  }
  absl::Time now = absl::Now();
  if (flags.Has("as-of")) {
    auto as_of = ParseDay(flags.Get("as-of"), "as-of");
    if (!as_of.ok()) return as_of.status();
    now = *as_of;
  }
  auto config = server::LoadConfig(layout.config());
  if (!config.ok()) return config.status();
  auto policy = server::RetentionPolicyOf(*config);
  if (!policy.ok()) return policy.status();
  auto store = OpenStore(layout);
  if (!store.ok()) return store.status();
  auto last_use = (*store)->SubjectLastUse();
  if (!last_use.ok()) return last_use.status();

  struct Expired {
    std::string subject_id;
    absl::Time last, until;
  };
  std::vector<Expired> expired;
  for (const auto& [subject_id, use] : *last_use) {
    absl::Time until = domain::RetainUntil(use, *policy);
    if (until > now) continue;
    absl::Time last = absl::InfinitePast();
    for (const auto& [category, time] : use) last = std::max(last, time);
    expired.push_back({subject_id, last, until});
  }
  const bool dry_run = flags.Has("dry-run");
  std::cout << last_use->size() << (last_use->size() == 1 ? " child" : " children") << " in the sharing log; "
            << expired.size()
            << (dry_run ? " would be" : " are") << " past their retention period on " << Day(now) << ".\n";
  for (const Expired& e : expired) {
    std::cout << "  " << domain::SubjectName(e.subject_id) << "  last used " << Day(e.last) << ", kept until "
              << Day(e.until);
    if (!dry_run) {
      absl::Status s = (*store)->EraseSubject(
          e.subject_id, ErasureEvent(e.subject_id, absl::StrCat("retention period ended on ", Day(e.until))));
      if (!s.ok()) {
        std::cout << "\n";
        return absl::Status(s.code(), absl::StrCat(domain::SubjectName(e.subject_id), ": ", s.message()));
      }
      std::cout << "  erased";
    }
    std::cout << "\n";
  }
  return absl::OkStatus();
}

absl::Status SubjectErase(const Flags& flags) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  if (flags.Has("expired")) return SubjectEraseExpired(flags, *layout);
  if (flags.Has("dry-run") || flags.Has("as-of")) {
    return absl::InvalidArgumentError("--dry-run and --as-of go with --expired");
  }
  auto id_text = flags.Require("id");
  if (!id_text.ok()) return id_text.status();
  auto reason = flags.Require("reason");
  if (!reason.ok()) return reason.status();
  if (absl::Status s = domain::ValidateReason(*reason, "--reason"); !s.ok()) return s;
  std::string name = id_text->rfind("subjects/", 0) == 0 ? *id_text : domain::SubjectName(*id_text);
  auto subject_id = domain::ParseSubjectName(name, "--id");
  if (!subject_id.ok()) return subject_id.status();
  auto store = OpenStore(*layout);
  if (!store.ok()) return store.status();

  if (absl::Status s = (*store)->EraseSubject(*subject_id, ErasureEvent(*subject_id, *reason)); !s.ok()) {
    if (absl::IsNotFound(s)) return absl::NotFoundError(absl::StrCat("--id: no subject ", *subject_id));
    return s;
  }

  store::EventFilter filter;
  filter.subject_id = *subject_id;
  uint64_t events = 0, sealed = 0, erased_at = 0;
  for (uint64_t from = 0;;) {
    auto page = (*store)->QueryEvents(filter, from, 1000);
    if (!page.ok()) return page.status();
    for (const store::StoredEvent& e : *page) {
      ++events;
      if (e.details_erased) ++sealed;
      v1::SharingEvent parsed;
      if (parsed.ParseFromString(e.record) && parsed.kind() == v1::EVENT_KIND_SUBJECT_ERASED) erased_at = e.sequence;
    }
    if (page->size() < 1000) break;
    from = page->back().sequence + 1;
  }
  std::cout << "Erased " << name << ": its key is destroyed, so the personal details of " << sealed << " of its "
            << EventCount(events) << " in the log are unreadable; its person-index records, identifiers and family links "
            << "are deleted. The events stay in the log unchanged (every proof still verifies); the erasure is "
            << "event " << erased_at << " (SUBJECT_ERASED).\n";
  return absl::OkStatus();
}

// ---- The referral outbox ------------------------------------------------------------------

void PrintOutboxItem(const store::OutboxItem& item) {
  std::cout << "  " << item.id << "  " << domain::OutboxStateName(item.state) << "  " << domain::ReferralName(item.inbox.referral_id)
            << " → partners/" << item.inbox.partner_id << "  attempts " << item.attempts;
  if (item.state == domain::OutboxState::kPending) {
    std::cout << ", next " << absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", item.next_attempt, absl::UTCTimeZone());
  }
  if (!item.external_id.empty()) std::cout << ", their id " << item.external_id;
  if (!item.last_error.empty()) std::cout << "\n      " << item.last_error;
  std::cout << "\n";
}

absl::Status OutboxList(const Flags& flags) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  std::optional<domain::OutboxState> state;
  if (flags.Has("state")) {
    domain::OutboxState parsed;
    if (!domain::ParseOutboxState(flags.Get("state"), &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat("--state: unknown state \"", flags.Get("state"),
                                                     "\" (PENDING, DELIVERED, DEAD, CANCELLED, SKIPPED)"));
    }
    state = parsed;
  }
  auto store = OpenStore(*layout);
  if (!store.ok()) return store.status();
  int count = 0;
  for (int64_t after = 0;;) {
    auto page = (*store)->ListOutbox(state, after, 500);
    if (!page.ok()) return page.status();
    for (const store::OutboxItem& item : *page) PrintOutboxItem(item);
    count += static_cast<int>(page->size());
    if (page->size() < 500) break;
    after = page->back().id;
  }
  std::cout << count << (count == 1 ? " delivery" : " deliveries")
            << (state ? absl::StrCat(" ", domain::OutboxStateName(*state)) : std::string()) << "\n";
  return absl::OkStatus();
}

absl::Status OutboxRedrive(const Flags& flags) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  auto id_text = flags.Require("id");
  if (!id_text.ok()) return id_text.status();
  int64_t id = 0;
  if (!absl::SimpleAtoi(*id_text, &id) || id <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--id: \"", *id_text, "\" is not an outbox item number"));
  }
  auto store = OpenStore(*layout);
  if (!store.ok()) return store.status();
  auto item = (*store)->RedriveOutboxItem(id);
  if (!item.ok()) return item.status();
  std::cout << "Outbox item " << id << " is PENDING again, due now:\n";
  PrintOutboxItem(*item);
  return absl::OkStatus();
}

// ---- The sharing log ----------------------------------------------------------------------

absl::StatusOr<audit::VerifyingKey> LoadPublicKey(const std::string& file) {
  auto pem = security::ReadFile(file);
  if (!pem.ok()) return pem.status();
  auto key = audit::VerifyingKey::FromPem(*pem);
  if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("--public-key ", file, ": ", key.status().message()));
  return key;
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(t.seconds()), absl::UTCTimeZone());
}

std::string RootHex(const std::string& bytes) {
  auto hash = audit::HashFromBytes(bytes);
  return hash.ok() ? audit::HashToHex(*hash) : absl::StrCat("(", bytes.size(), " bytes, not a root)");
}

std::string DescribeHead(const v1::SignedTreeHead& head) {
  return absl::StrCat(EventCount(head.tree_size()), ", root ", RootHex(head.root_hash()), ", signed ", FormatTime(head.time()),
                      head.key_id().empty() ? "" : absl::StrCat(" by key ", head.key_id().substr(0, 16), "…"));
}

// A SignedTreeHead in JSON, as `audit tree-head` writes it (a GetTreeHeadResponse is accepted too).
absl::StatusOr<v1::SignedTreeHead> ReadTreeHeadFile(const std::string& file) {
  auto text = security::ReadFile(file);
  if (!text.ok()) return text.status();
  v1::SignedTreeHead head;
  auto s = google::protobuf::util::JsonStringToMessage(*text, &head);
  if (s.ok()) return head;
  v1::GetTreeHeadResponse response;
  if (google::protobuf::util::JsonStringToMessage(*text, &response).ok() && response.has_tree_head()) {
    return response.tree_head();
  }
  return absl::InvalidArgumentError(absl::StrCat("--tree-head ", file, ": not a signed tree head: ", s.ToString()));
}

absl::Status AuditExport(const Flags& flags) {
  auto out = flags.Require("out");
  if (!out.ok()) return out.status();
  auto channel = HubChannel(flags);
  if (!channel.ok()) return channel.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(2));
  auto reader = v1::AuditService::NewStub(*channel)->ExportEvents(&ctx, v1::ExportEventsRequest());
  // Written beside the target and renamed at the end, so FILE is never a partial export.
  const std::string partial = *out + ".partial";
  std::ofstream file(partial, std::ios::binary | std::ios::trunc);
  if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot write ", partial));
  google::protobuf::util::JsonPrintOptions one_line;
  one_line.add_whitespace = false;
  v1::ExportEventsResponse item;
  uint64_t events = 0;
  std::optional<v1::SignedTreeHead> head;
  std::string line;
  while (reader->Read(&item)) {
    line.clear();
    if (auto s = google::protobuf::util::MessageToJsonString(item, &line, one_line); !s.ok()) {
      ctx.TryCancel();
      reader->Finish();
      std::remove(partial.c_str());
      return absl::InternalError(absl::StrCat("cannot encode an export item: ", s.ToString()));
    }
    file << line << '\n';
    if (item.has_tree_head()) {
      head = item.tree_head();
    } else {
      ++events;
    }
  }
  grpc::Status status = reader->Finish();
  file.close();
  if (!status.ok() || !file) {
    std::remove(partial.c_str());
    if (!status.ok()) return FromGrpc(status);
    return absl::UnavailableError(absl::StrCat("cannot write ", partial));
  }
  if (!head) {
    std::remove(partial.c_str());
    return absl::DataLossError("the hub ended the export without a tree head");
  }
  if (std::rename(partial.c_str(), out->c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot rename ", partial, " to ", *out));
  }
  std::cout << "Exported " << EventCount(events) << " to " << *out << "\nSigned tree head: " << DescribeHead(*head) << "\n";
  return absl::OkStatus();
}

absl::Status AuditTreeHead(const Flags& flags) {
  auto channel = HubChannel(flags);
  if (!channel.ok()) return channel.status();
  v1::GetTreeHeadResponse resp;
  grpc::Status s = v1::AuditService::NewStub(*channel)->GetTreeHead(CallContext().get(), v1::GetTreeHeadRequest(), &resp);
  if (!s.ok()) return FromGrpc(s);
  google::protobuf::util::JsonPrintOptions pretty;
  pretty.add_whitespace = true;
  std::string json;
  if (auto st = google::protobuf::util::MessageToJsonString(resp.tree_head(), &json, pretty); !st.ok()) {
    return absl::InternalError(absl::StrCat("cannot encode the tree head: ", st.ToString()));
  }
  if (!flags.Has("out")) {
    std::cout << json;
    return absl::OkStatus();
  }
  if (absl::Status w = security::WriteFileAtomically(flags.Get("out"), json, 0644); !w.ok()) return w;
  std::cout << "Signed tree head: " << DescribeHead(resp.tree_head()) << "\nKept in " << flags.Get("out")
            << " (check it later with `accordctl audit verify EXPORT --tree-head " << flags.Get("out") << "`)\n";
  return absl::OkStatus();
}

// Prints the verdict: OK and `summary` when the log verifies, else every problem and DATA_LOSS.
absl::Status Verdict(const audit::LogReport& report, const std::vector<std::string>& more_problems,
                     const std::string& summary) {
  std::vector<std::string> problems = more_problems;
  problems.insert(problems.end(), report.problems.begin(), report.problems.end());
  if (problems.empty() && report.problems_omitted == 0) {
    std::cout << summary << "\n";
    return absl::OkStatus();
  }
  uint64_t total = problems.size() + report.problems_omitted;
  std::cerr << "The sharing log does NOT verify (" << total << (total == 1 ? " problem" : " problems") << "):\n";
  for (const std::string& p : problems) std::cerr << "  - " << p << "\n";
  if (report.problems_omitted > 0) std::cerr << "  - … and " << report.problems_omitted << " more\n";
  return absl::DataLossError(absl::StrCat(problems.empty() ? std::string("see above") : problems.front(),
                                          total > 1 ? absl::StrCat(" (", total, " problems in all)") : ""));
}

// --event: the event's inclusion proof, recomputed from the verified records, against each head
// it falls under; and the consistency proof between the kept head and the export's head.
void ShowProofs(uint64_t seq, audit::MemoryHashStore& nodes, const v1::SignedTreeHead& head,
                const std::optional<v1::SignedTreeHead>& kept, std::vector<std::string>* problems) {
  auto leaf = nodes.Get(0, seq);
  if (!leaf.ok()) {
    problems->push_back(absl::StrCat("--event ", seq, ": the export holds no event ", seq));
    return;
  }
  std::vector<std::pair<std::string, const v1::SignedTreeHead*>> heads = {{"the export's tree head", &head}};
  if (kept) heads.push_back({"the kept tree head", &*kept});
  for (const auto& [label, h] : heads) {
    if (seq >= h->tree_size()) {
      std::cout << "Event " << seq << " is newer than " << label << " (" << EventCount(h->tree_size()) << ")\n";
      continue;
    }
    auto root = audit::HashFromBytes(h->root_hash());
    auto path = audit::InclusionProof(nodes, seq, h->tree_size());
    absl::Status verified = !root.ok() ? root.status() : !path.ok() ? path.status()
                                       : audit::VerifyInclusion(*leaf, seq, h->tree_size(), *path, *root);
    if (verified.ok()) {
      std::cout << "Inclusion proof of event " << seq << " (leaf " << audit::HashToHex(*leaf) << ", " << path->size()
                << " hashes) verifies against " << label << " (" << EventCount(h->tree_size()) << ")\n";
    } else {
      problems->push_back(absl::StrCat("the inclusion proof of event ", seq, " does not verify against ", label, ": ",
                                       verified.message()));
    }
  }
  if (kept && kept->tree_size() <= head.tree_size()) {
    auto old_root = audit::HashFromBytes(kept->root_hash());
    auto new_root = audit::HashFromBytes(head.root_hash());
    auto proof = audit::ConsistencyProof(nodes, kept->tree_size(), head.tree_size());
    absl::Status verified = !old_root.ok() ? old_root.status() : !new_root.ok() ? new_root.status()
                            : !proof.ok() ? proof.status()
                            : audit::VerifyConsistency(kept->tree_size(), head.tree_size(), *old_root, *new_root,
                                                       *proof);
    if (verified.ok()) {
      std::cout << "Consistency proof (" << proof->size() << " hashes) from the kept tree head ("
                << EventCount(kept->tree_size()) << ") to the export's tree head (" << EventCount(head.tree_size())
                << ") verifies\n";
    } else {
      problems->push_back(absl::StrCat("the consistency proof from the kept tree head to the export's does not verify: ",
                                       verified.message()));
    }
  }
}

// Declares --tree-head (a head the DPO kept) to `verifier`; sets *kept.
absl::Status ExpectKeptHead(const Flags& flags, audit::LogVerifier& verifier, std::optional<v1::SignedTreeHead>* kept) {
  if (!flags.Has("tree-head")) return absl::OkStatus();
  auto head = ReadTreeHeadFile(flags.Get("tree-head"));
  if (!head.ok()) return head.status();
  auto sth = audit::TreeHeadFromProto(*head);
  if (!sth.ok()) return absl::InvalidArgumentError(absl::StrCat("--tree-head: ", sth.status().message()));
  *kept = *head;
  return verifier.ExpectHead(*sth, audit::HeadCoverage::kPrefix,
                             absl::StrCat("the kept tree head (", flags.Get("tree-head"), ")"));
}

absl::Status VerifyExport(const Flags& flags) {
  const std::string path = flags.positional()[0];
  if (!flags.Has("public-key") || flags.Get("public-key").empty()) {
    return absl::InvalidArgumentError(
        "--public-key is required to verify an export: the hub's keys/signing.pub, as the DPO keeps it");
  }
  auto key = LoadPublicKey(flags.Get("public-key"));
  if (!key.ok()) return key.status();
  std::optional<uint64_t> event;
  if (flags.Has("event")) {
    uint64_t seq = 0;
    if (!absl::SimpleAtoi(flags.Get("event"), &seq)) return absl::InvalidArgumentError("--event: not a sequence number");
    event = seq;
  }
  audit::MemoryHashStore nodes;  // filled only for --event (about 64 bytes per event)
  audit::LogVerifier::Options options;
  if (event) options.recomputed_nodes = &nodes;
  audit::LogVerifier verifier(*key, options);
  std::optional<v1::SignedTreeHead> kept;
  if (absl::Status s = ExpectKeptHead(flags, verifier, &kept); !s.ok()) return s;

  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<std::string> problems;
  std::optional<v1::SignedTreeHead> head;
  uint64_t line_no = 0, after_head = 0;
  std::string line;
  v1::ExportEventsResponse item;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    item.Clear();
    if (auto s = google::protobuf::util::JsonStringToMessage(line, &item); !s.ok()) {
      problems.push_back(absl::StrCat("line ", line_no, " is not an export item (", s.ToString(),
                                      "): the file was altered"));
      continue;
    }
    if (head) {
      if (after_head++ == 0) {
        problems.push_back(absl::StrCat("line ", line_no, " comes after the tree head, which must be last: the file "
                                        "was altered"));
      }
      continue;
    }
    switch (item.item_case()) {
      case v1::ExportEventsResponse::kEventRecord:
        verifier.Add(item.event_record());
        break;
      case v1::ExportEventsResponse::kTreeHead:
        head = item.tree_head();
        break;
      default:
        problems.push_back(absl::StrCat("line ", line_no, " holds neither an event nor a tree head"));
    }
  }
  if (!head) {
    problems.push_back("the export has no tree head (its last line): it was cut short");
  } else if (auto sth = audit::TreeHeadFromProto(*head); !sth.ok()) {
    problems.push_back(absl::StrCat("the export's tree head is malformed: ", sth.status().message()));
  } else {
    (void)verifier.ExpectHead(*sth, audit::HeadCoverage::kWholeLog, "the export's tree head");
  }
  audit::LogReport report = verifier.Finish();
  if (event && head) ShowProofs(*event, nodes, *head, kept, &problems);
  std::string summary = absl::StrCat("Export intact: ", EventCount(report.event_count), ", root ",
                                     audit::HashToHex(report.root), ", matching its tree head signed ",
                                     head ? FormatTime(head->time()) : "", " with key ",
                                     key->KeyId().value_or("?").substr(0, 16), "…");
  if (kept) {
    absl::StrAppend(&summary, "; the kept tree head (", EventCount(kept->tree_size()), ", signed ", FormatTime(kept->time()),
                    ") is a prefix of it: the log only grew");
  }
  return Verdict(report, problems, summary);
}

absl::Status VerifyDataDir(const Flags& flags) {
  auto layout = DataDir(flags);
  if (!layout.ok()) return layout.status();
  if (flags.Has("event")) return absl::InvalidArgumentError("--event works on an export, not with --data-dir");
  auto key = LoadPublicKey(flags.Get("public-key", layout->signing_public_key().string()));
  if (!key.ok()) return key.status();
  auto store = OpenStore(*layout);
  if (!store.ok()) return store.status();
  audit::LogVerifier::Options options;
  options.stored_nodes = &(*store)->LogHashes();
  audit::LogVerifier verifier(*key, options);
  std::optional<v1::SignedTreeHead> kept;
  if (absl::Status s = ExpectKeptHead(flags, verifier, &kept); !s.ok()) return s;

  std::vector<std::string> problems;
  auto latest = (*store)->LatestTreeHead();
  if (latest.ok()) {
    if (absl::Status s = verifier.ExpectHead(*latest, audit::HeadCoverage::kPrefix, "the latest saved tree head");
        !s.ok()) {
      return s;
    }
  } else if (!absl::IsNotFound(latest.status())) {
    problems.push_back(absl::StrCat("the latest saved tree head cannot be read: ", latest.status().message()));
  }

  // Every event, in pages; an event the store cannot read (its record or sealed details were
  // altered so it no longer parses or opens) is named and skipped.
  constexpr int kPage = 1000;
  auto log_size = (*store)->LogSize();
  if (!log_size.ok()) return log_size.status();
  // Only a damaged event (DATA_LOSS) is a finding; any other error means the check could not run.
  auto cannot_read = [](uint64_t at, const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("cannot read the log at event ", at, ": ", s.message()));
  };
  uint64_t from = 0;
  std::optional<uint64_t> last_seq;
  for (;;) {
    auto page = (*store)->ReadEvents(from, kPage);
    if (page.ok()) {
      if (page->empty()) break;
      for (const store::StoredEvent& e : *page) verifier.Add(e.record);
      last_seq = page->back().sequence;
      from = *last_seq + 1;
      continue;
    }
    // Find the unreadable one: the smallest `from` past which reading succeeds again.
    if (!absl::IsDataLoss(page.status())) return cannot_read(from, page.status());
    auto one = (*store)->ReadEvents(from, 1);
    if (one.ok()) {
      if (one->empty()) break;
      verifier.Add(one->front().record);
      last_seq = one->front().sequence;
      from = *last_seq + 1;
      continue;
    }
    if (!absl::IsDataLoss(one.status())) return cannot_read(from, one.status());
    uint64_t next = from + 1;
    for (; next < *log_size; ++next) {
      auto probe = (*store)->ReadEvents(next, 1);
      if (probe.ok()) break;
      if (!absl::IsDataLoss(probe.status())) return cannot_read(next, probe.status());
    }
    const uint64_t bad = next - 1;
    // Its stored leaf hash stands in, so the other checks still judge the rest of the log.
    auto stored_leaf = (*store)->LogHashes().Get(0, bad);
    verifier.AddUnreadable(stored_leaf.value_or(audit::Hash{}),
                           absl::StrCat("the store cannot read event ", bad, " (", one.status().message(),
                                        "): its record or sealed details were altered"));
    last_seq = bad;
    from = next;
  }
  // Stored hashes for events past the last one: the end of the log was cut off.
  uint64_t end = last_seq ? *last_seq + 1 : 0;
  if ((*store)->LogHashes().Get(0, end).ok()) {
    auto again = (*store)->ReadEvents(end, 1);
    if (again.ok() && again->empty()) {
      problems.push_back(absl::StrCat("log_nodes holds the hash of event ", end, " but the log ",
                                      end == 0 ? std::string("holds no events") : absl::StrCat("ends at event ", end - 1),
                                      ": events were removed from the end of the log"));
    }
  }
  audit::LogReport report = verifier.Finish();
  std::string summary = absl::StrCat("Sharing log intact: ", EventCount(report.event_count), ", root ",
                                     audit::HashToHex(report.root), "; ", report.nodes_compared,
                                     " stored hashes match");
  if (latest.ok()) {
    absl::StrAppend(&summary, "; the latest saved tree head (", EventCount(latest->head.tree_size), ", signed ",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", latest->head.timestamp, absl::UTCTimeZone()),
                    ") verifies with key ", key->KeyId().value_or("?").substr(0, 16), "…");
  } else {
    absl::StrAppend(&summary, "; no signed tree head has been saved yet (a DPO's GetTreeHead saves one)");
  }
  if (kept) {
    absl::StrAppend(&summary, "; the kept tree head (", EventCount(kept->tree_size()), ") is a prefix of the log");
  }
  return Verdict(report, problems, summary);
}

absl::Status AuditVerify(const Flags& flags) {
  if (flags.Has("data-dir")) {
    if (!flags.positional().empty()) return absl::InvalidArgumentError("give an export file or --data-dir, not both");
    return VerifyDataDir(flags);
  }
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError("give one export file (from `accordctl audit export`) or --data-dir DIR");
  }
  return VerifyExport(flags);
}

// Progress on stderr for long runs: "LABEL N / M services", at most every quarter second, updated
// in place on a terminal, one line each otherwise. Small documents show none.
class Progress {
 public:
  explicit Progress(std::string label) : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { Finish(); }
  void Update(size_t done, size_t total) {
    if (total < kMinTotal) return;
    absl::Time now = absl::Now();
    if (done < total && now - last_ < absl::Milliseconds(250)) return;
    last_ = now;
    std::cerr << (tty_ ? "\r" : "") << label_ << " " << done << " / " << total << " services" << (tty_ ? "" : "\n")
              << std::flush;
    shown_ = true;
  }
  void Finish() {
    if (shown_ && tty_) std::cerr << "\n" << std::flush;
    shown_ = false;
  }

 private:
  static constexpr size_t kMinTotal = 50;
  std::string label_;
  bool tty_;
  bool shown_ = false;
  absl::Time last_ = absl::InfinitePast();
};

absl::StatusOr<v1::LevelOfNeed> ParseLevel(const std::string& text) {
  int number = 0;
  if (absl::SimpleAtoi(text, &number)) {
    if (number < 1 || number > 4) return absl::InvalidArgumentError(absl::StrCat("--max-level: ", text, " is not 1-4"));
    return static_cast<v1::LevelOfNeed>(number);
  }
  return ParseEnum<v1::LevelOfNeed>(text, "LEVEL_OF_NEED_", &v1::LevelOfNeed_Parse, "max-level");
}

bool IsLocalAuthorityCode(const std::string& code) {
  if (code.size() != 9 || std::string("ENSW").find(code[0]) == std::string::npos) return false;
  return std::all_of(code.begin() + 1, code.end(), [](char c) { return absl::ascii_isdigit(c); });
}

absl::Status DirectoryImport(const Flags& flags) {
  std::vector<std::string> files = flags.positional();
  // `--dry-run FILE`: the flag takes no value, so what follows it is the file.
  if (!flags.Get("dry-run").empty()) files.push_back(flags.Get("dry-run"));
  if (files.size() != 1) {
    return absl::InvalidArgumentError("give one Open Referral JSON file: directory import FILE --bundle BUNDLE");
  }
  const std::string file = files[0];
  const bool dry_run = flags.Has("dry-run");
  if (!dry_run && !flags.Has("bundle")) return absl::InvalidArgumentError("--bundle is required");
  if (flags.Has("bundle") && flags.Get("bundle").empty()) return absl::InvalidArgumentError("--bundle is required");
  openreferral::ImportOptions options;
  if (flags.Has("max-level")) {
    auto level = ParseLevel(flags.Get("max-level"));
    if (!level.ok()) return level.status();
    options.maximum_level_of_need = *level;
  }
  if (flags.Has("default-area")) {
    v1::ServiceArea area;
    area.set_description("Default area");
    for (absl::string_view part : absl::StrSplit(flags.Get("default-area"), ',', absl::SkipWhitespace())) {
      std::string code = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(part));
      (IsLocalAuthorityCode(code) ? area.add_local_authorities() : area.add_postcode_prefixes())->assign(code);
    }
    if (area.postcode_prefixes().empty() && area.local_authorities().empty()) {
      return absl::InvalidArgumentError("--default-area: give postcode prefixes or ONS local authority codes");
    }
    options.default_area = area;
  }
  std::error_code ec;
  if (fs::is_directory(file, ec)) return absl::InvalidArgumentError(absl::StrCat("cannot read ", file, ": a directory"));
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", file, ": ", std::strerror(errno)));
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", file));

  std::unique_ptr<v1::DirectoryService::Stub> stub;
  if (!dry_run) {
    auto channel = HubChannel(flags);
    if (!channel.ok()) return channel.status();
    stub = v1::DirectoryService::NewStub(*channel);
  }

  openreferral::ImportResult result;
  {
    Progress progress("read");
    options.progress = [&progress](size_t done, size_t total) { progress.Update(done, total); };
    result = openreferral::ImportServices(json, options);
  }
  size_t left_out = 0;
  for (const openreferral::ImportIssue& issue : result.issues) {
    std::cout << issue.path << ": " << issue.message << (issue.left_out ? " (left out)" : "") << "\n";
    if (issue.left_out) ++left_out;
  }
  // A document that is not JSON, or holds no services: one issue at "$".
  for (const openreferral::ImportIssue& issue : result.issues) {
    if (result.services.empty() && issue.path == "$") {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", issue.message));
    }
  }
  for (const std::string& term : result.unknown_terms) std::cout << "unknown taxonomy term: " << term << "\n";

  if (dry_run) {
    for (const openreferral::ImportedService& s : result.services) {
      std::cout << "would publish services/" << s.service_id << " (" << s.service.display_name() << ")\n";
    }
    std::cout << "Dry run: " << result.services.size() << " services would be published, " << left_out
              << " left out by the mapping; nothing was sent to the hub\n";
    return absl::OkStatus();
  }

  std::vector<std::pair<std::string, std::string>> refused;
  size_t published = 0;
  {
    Progress progress("imported");
    for (size_t i = 0; i < result.services.size(); ++i) {
      const openreferral::ImportedService& s = result.services[i];
      v1::PublishServiceRequest req;
      *req.mutable_service() = s.service;
      req.set_service_id(s.service_id);
      v1::PublishServiceResponse resp;
      grpc::Status st = stub->PublishService(CallContext().get(), req, &resp);
      if (st.ok()) {
        ++published;
      } else {
        refused.emplace_back(s.service_id, absl::StrCat(absl::StatusCodeToString(FromGrpc(st).code()), ": ",
                                                       st.error_message()));
      }
      progress.Update(i + 1, result.services.size());
    }
  }
  for (const auto& [id, error] : refused) std::cout << "refused services/" << id << ": " << error << "\n";
  std::cout << "Published " << published << " services, " << refused.size() << " refused by the hub, " << left_out
            << " left out by the mapping\n";
  if (!refused.empty()) {
    return absl::AbortedError(absl::StrCat("the hub refused ", refused.size(), " of ", result.services.size(),
                                           " services"));
  }
  return absl::OkStatus();
}

absl::Status DirectoryExport(const Flags& flags) {
  auto out = flags.Require("out");
  if (!out.ok()) return out.status();
  if (flags.Get("postcode").empty() && flags.Get("local-authority").empty()) {
    return absl::InvalidArgumentError(
        "--postcode or --local-authority is required: the directory is exported by searching an area");
  }
  auto channel = HubChannel(flags);
  if (!channel.ok()) return channel.status();
  auto stub = v1::DirectoryService::NewStub(*channel);
  std::map<std::string, v1::Service> found;
  auto keep = [&found](const v1::ServiceMatch& m) { found.emplace(m.service().name(), m.service()); };
  for (int level = v1::LEVEL_OF_NEED_UNIVERSAL; level <= v1::LEVEL_OF_NEED_SPECIALIST; ++level) {
    for (int age = 0; age <= 25; ++age) {
      v1::SearchServicesRequest req;
      for (int type = 1; v1::NeedType_IsValid(type); ++type) {
        v1::Need* need = req.add_needs();
        need->set_type(static_cast<v1::NeedType>(type));
        need->set_level(static_cast<v1::LevelOfNeed>(level));
      }
      req.set_age_years(age);
      req.set_postcode(flags.Get("postcode"));
      req.set_local_authority(flags.Get("local-authority"));
      req.set_include_near_misses(true);
      req.set_page_size(100);
      do {
        v1::SearchServicesResponse resp;
        grpc::Status s = stub->SearchServices(CallContext().get(), req, &resp);
        if (!s.ok()) return FromGrpc(s);
        for (const v1::ServiceMatch& m : resp.matches()) keep(m);
        for (const v1::ServiceMatch& m : resp.near_misses()) keep(m);
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
    }
  }
  std::vector<openreferral::ImportedService> services;
  for (auto& [name, service] : found) {
    openreferral::ImportedService s;
    s.service_id = name.rfind("services/", 0) == 0 ? name.substr(9) : name;
    s.service = service;
    services.push_back(std::move(s));
  }
  std::ofstream file(*out, std::ios::binary | std::ios::trunc);
  if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot write ", *out, ": ", std::strerror(errno)));
  file << openreferral::ExportServices(services);
  file.close();
  if (!file) return absl::DataLossError(absl::StrCat("cannot write ", *out));
  std::cout << "Exported " << services.size() << " services to " << *out << "\n";
  return absl::OkStatus();
}

struct Command {
  std::set<std::string> flags;
  std::function<absl::Status(const Flags&)> run;
};

}  // namespace

int RunAccordctl(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::map<std::string, Command> commands = {
      {"ca init", {{"data-dir", "hostname", "listen"}, CaInit}},
      {"partner enrol", {{"data-dir", "name", "sector", "roles", "id", "out", "valid-days"}, PartnerEnrol}},
      {"partner list", {{"data-dir"}, PartnerList}},
      {"partner suspend", {{"data-dir", "id", "reason"}, [](const Flags& f) { return PartnerChangeState(f, "suspend"); }}},
      {"partner reinstate", {{"data-dir", "id"}, [](const Flags& f) { return PartnerChangeState(f, "reinstate"); }}},
      {"partner revoke", {{"data-dir", "id", "reason"}, [](const Flags& f) { return PartnerChangeState(f, "revoke"); }}},
      {"hub status", {{"bundle", "address"}, HubStatus}},
      {"agreement create",
       {{"bundle", "address", "from", "to", "purposes", "categories", "until", "description"}, AgreementCreate}},
      {"agreement list", {{"bundle", "address"}, AgreementList}},
      {"consent verify-receipt", {{"public-key"}, ConsentVerifyReceipt}},
      {"subject erase", {{"data-dir", "id", "reason", "expired", "dry-run", "as-of"}, SubjectErase}},
      {"outbox list", {{"data-dir", "state"}, OutboxList}},
      {"outbox redrive", {{"data-dir", "id"}, OutboxRedrive}},
      {"audit export", {{"bundle", "address", "out"}, AuditExport}},
      {"audit tree-head", {{"bundle", "address", "out"}, AuditTreeHead}},
      {"audit verify", {{"data-dir", "public-key", "tree-head", "event"}, AuditVerify}},
      {"directory import", {{"bundle", "address", "dry-run", "max-level", "default-area"}, DirectoryImport}},
      {"directory export", {{"bundle", "address", "out", "postcode", "local-authority"}, DirectoryExport}},
  };
  std::string name = args.size() >= 2 ? args[0] + " " + args[1] : args[0];
  auto it = commands.find(name);
  if (it == commands.end()) {
    std::cerr << "accordctl: unknown command \"" << name << "\"\n\n" << kUsage;
    return 2;
  }
  auto flags = Flags::Parse(std::vector<std::string>(args.begin() + 2, args.end()), it->second.flags);
  if (!flags.ok()) {
    std::cerr << "accordctl " << name << ": " << flags.status().message() << "\n";
    return 2;
  }
  absl::Status status = it->second.run(*flags);
  if (!status.ok()) {
    std::cerr << "accordctl " << name << ": " << status.message() << "\n";
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace accord::cli
