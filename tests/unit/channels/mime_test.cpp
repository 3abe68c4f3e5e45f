#include "channels/mime/mime.hpp"

#include "tests/unit/channels/fixtures.hpp"

#include <doctest/doctest.h>

#include <boost/json/serialize.hpp>

#include <future>
#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;

namespace sb {
namespace {

using namespace fixtures;

const std::string token_a = "mta-pipe-2b7f9c4e1a6d8b30";
const std::string token_b = "mta-pipe-rotated-5d1e8f2a9c";

channel_config mime_config(std::vector<std::string> secrets = {token_a}) {
  return test_channel("support-mail", "mime", std::move(secrets));
}

std::string fixture(const std::string& name) { return read_fixture("mime", name); }

request post(std::string body, const std::string& token = token_a) {
  request r{.target = "/v1/webhooks/support-mail", .now = test_now};
  r.body = std::move(body);
  r.fields = {{"Content-Type", "message/rfc822"}, {"Authorization", "Bearer " + token}};
  return r;
}

SB_ADAPTER_STEPS(make_mime_adapter, mime_config(), message_without_ack, refusal)

const boost::json::object& mail(const inbound_message& m) {
  REQUIRE(m.extra.contains("email"));
  return m.extra.at("email").as_object();
}

const std::string minimal =
    "From: Ann Lee <ann@example.com>\r\nTo: support@acme.example\r\nSubject: Hi\r\n"
    "Message-ID: <m1@example.com>\r\n\r\nHello there.\r\n";

// ---- construction ------------------------------------------------------------------------

TEST_CASE("make_mime_adapter validates the bearer secrets") {
  CHECK(make_mime_adapter(mime_config()).has_value());
  CHECK(make_mime_adapter(mime_config({token_a, token_b})).has_value());
  SUBCASE("no secret") {
    auto a = make_mime_adapter(mime_config({}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail == "a mime channel needs a secret (secret or secret_file)");
  }
  SUBCASE("too short, and the secret is never echoed") {
    auto a = make_mime_adapter(mime_config({token_a, "s3cr3t"}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code == errc::malformed);
    CHECK(a.error().detail.starts_with("secret 2 of 2 is too short (6 bytes"));
    CHECK(a.error().detail.find("s3cr3t") == std::string::npos);
  }
  SUBCASE("a space cannot be sent in a bearer token") {
    auto a = make_mime_adapter(mime_config({"correct horse battery staple"}));
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().detail == "secret contains spaces or control characters");
  }
}

// ---- valid messages ----------------------------------------------------------------------

TEST_CASE("multipart/alternative, quoted-printable UTF-8, encoded-word subject and names") {
  request r = post(fixture("alternative_qp.eml"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id ==
        "CAF7k2pQ.20261122.1159@mail.example.lv from janis.berzins@example.lv (unverified)");
  CHECK(m.direction == "inbound");
  CHECK(m.visibility == "private");
  CHECK(m.identities == std::vector<identity>{{"email", "janis.berzins@example.lv", false}});
  CHECK(m.sender_name == "Jānis Bērziņš");
  CHECK(m.recipient == "support@acme.example");
  CHECK(m.subject == "Re: Rēķins Nr. 2026-118 — jautājums");
  // The text part wins over the HTML part; CRLF became LF; the trailing newline is gone.
  CHECK(m.text ==
        "Labdien!\n\nMans rēķins Nr. 2026-118 ir nepareizs: summa ir 149,00 €, nevis 94,00 €.\n"
        "Lūdzu, pārbaudiet — paldies! 🙏\n\nJānis Bērziņš");
  CHECK(m.sent_at == parse_time("2026-11-22T09:59:30Z"));
  CHECK(m.attachments.empty());
  CHECK_FALSE(m.language.has_value());
  const auto& e = mail(m);
  CHECK(e.at("message_id").as_string() == "CAF7k2pQ.20261122.1159@mail.example.lv");
  CHECK(e.at("in_reply_to").as_string() == "ticket-7781.reply-2@acme.example");
  CHECK(strings(e.at("references")) ==
        std::vector<std::string>{"ticket-7781@acme.example", "ticket-7781.reply-1@acme.example",
                                 "ticket-7781.reply-2@acme.example"});
  CHECK(strings(e.at("to")) == std::vector<std::string>{"support@acme.example"});
  CHECK(strings(e.at("cc")) ==
        std::vector<std::string>{"liga.ozolina@example.lv", "billing@acme.example"});
  CHECK(e.at("stripped_text").is_null());
  CHECK_FALSE(e.contains("attachments_omitted"));
  CHECK(m.extra.size() == 3);
  CHECK(m.extra.at("sender_authenticated").as_string() == "none");  // nothing trusted says
  CHECK_FALSE(m.extra.at("auto_reply").as_bool());
}

TEST_CASE("multipart/mixed: nested alternative, latin-1 text, attachments of every kind") {
  request r = post(fixture("mixed_attachments.eml"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id ==
        "20261122120500.GA4411@example.lv from liga.ozolina@example.lv (unverified)");
  CHECK(m.sender_name == "Ozoliņa, Līga");  // raw UTF-8 in a header, quoted display name
  CHECK(m.identities == std::vector<identity>{{"email", "liga.ozolina@example.lv", false}});
  CHECK(m.subject == "Faktura för november");
  CHECK(m.text == "Hej! Bifogar fakturan och en skärmbild.\nHälsningar, Lîga");
  REQUIRE(m.attachments.size() == 3);
  for (const auto& a : m.attachments) {
    REQUIRE(a.bytes.has_value());
    CHECK(a.size == static_cast<std::int64_t>(a.bytes->size()));
  }
  // RFC 2231 filename*, base64 content: decoded, byte for byte (NUL and high bytes included).
  CHECK(m.attachments[0].name == "rēķins 2026-118.pdf");
  CHECK(m.attachments[0].content_type == "application/pdf");
  CHECK(m.attachments[0].size == 327);
  CHECK(m.attachments[0].bytes == sample_pdf());
  CHECK(m.attachments[0].url.empty());
  // An inline image with an RFC 2047 encoded filename is still an attachment.
  CHECK(m.attachments[1].name == "ekrānuzņēmums.png");
  CHECK(m.attachments[1].content_type == "image/png");
  CHECK(m.attachments[1].size == 81);
  CHECK(m.attachments[1].bytes->starts_with(png_signature));
  // A forwarded message is one attachment, named after its subject; its text is not ours.
  CHECK(m.attachments[2].name == "Invoice 2026-118");
  CHECK(m.attachments[2].content_type == "message/rfc822");
  CHECK(*m.attachments[2].size > 200);
  CHECK(m.text.find("Your invoice") == std::string::npos);
  // Its bytes are the message as GMime writes it (LF line ends): headers, then its text.
  CHECK(*m.attachments[2].bytes ==
        "From: Acme Billing <billing@acme.example>\nTo: janis.berzins@example.lv\n"
        "Subject: Invoice 2026-118\nDate: Fri, 20 Nov 2026 08:00:00 +0000\n"
        "Message-ID: <inv-2026-118@acme.example>\nContent-Type: text/plain; charset=us-ascii\n"
        "\nYour invoice 2026-118 is attached.\n");
}

TEST_CASE("attachment bytes: transfer encodings undone, the rest as sent") {
  // Quoted-printable: soft line breaks joined, =XX decoded (a NUL and high bytes too), the
  // text's own CRLFs kept (a file is not text to normalize).
  request r = post(
      "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n"
      "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Disposition: attachment; filename=\"liste.txt\"\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Caf=E9 =3D 3 =80, a long line broken=\r\n by the encoder\r\nNUL=00 FF=FF\r\n"
      "--b\r\nContent-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment; filename=\"raw.bin\"\r\n\r\n"
      "\x00\x01\xfe\xff raw 8-bit\r\n"
      "--b--\r\n"s);
  const inbound_message m = accepted(r);
  CHECK(m.text == "see the file");
  REQUIRE(m.attachments.size() == 2);
  const std::string list = "Caf\xe9 = 3 \x80, a long line broken by the encoder\r\nNUL\x00 FF\xff"s;
  const std::string raw = "\x00\x01\xfe\xff raw 8-bit"s;
  CHECK(m.attachments[0].name == "liste.txt");
  CHECK(m.attachments[0].bytes == list);
  CHECK(m.attachments[0].size == static_cast<std::int64_t>(list.size()));
  CHECK(m.attachments[1].bytes == raw);
  CHECK(m.attachments[1].size == static_cast<std::int64_t>(raw.size()));
}

TEST_CASE("an HTML-only latin-1 message: the text is derived from the HTML") {
  request r = post(fixture("html_only_latin1.eml"));
  const inbound_message m = accepted(r);
  CHECK(m.sender_name == "Renée Lefèvre");
  CHECK(m.subject == "Commande n° 4471 non reçue");
  CHECK(m.text ==
        "Bonjour l'équipe,\n\nMa commande n° 4471 n'est pas arrivée…\n\n- colis 1 & 2\n"
        "- livraison prévue le 18/11\n\nMerci !\nRenée");
  CHECK(m.sent_at == parse_time("2026-11-21T17:30:00Z"));
}

TEST_CASE("8-bit windows-1252 and koi8-r bodies and encoded words become UTF-8") {
  SUBCASE("windows-1252") {
    request r = post(fixture("windows1252.eml"));
    const inbound_message m = accepted(r);
    CHECK(m.sender_name == "Sean O'Brien");
    CHECK(m.text == "I was charged €49.95 twice – please refund the “duplicate” charge.");
  }
  SUBCASE("koi8-r") {
    request r = post(fixture("koi8r.eml"));
    const inbound_message m = accepted(r);
    CHECK(m.sender_name == "Иван Петров");
    CHECK(m.subject == "Проблема со входом");
    CHECK(m.text == "Здравствуйте! Не могу войти в личный кабинет.");
    CHECK(m.sent_at == parse_time("2026-11-22T10:00:00Z"));
  }
  SUBCASE("undeclared 8-bit latin-1 is read as windows-1252") {
    request r = post(
        "From: a@example.com\r\nSubject: Caf\xe9\r\n\r\nCr\xe8me br\xfbl\xe9"
        "e \x80 5\r\n");
    const inbound_message m = accepted(r);
    CHECK(m.subject == "Café");
    CHECK(m.text == "Crème brûlée € 5");
  }
  SUBCASE("a charset nobody knows: still valid UTF-8") {
    request r = post(
        "From: a@example.com\r\nContent-Type: text/plain; charset=x-unknown-42\r\n\r\nok \xff\r\n");
    const inbound_message m = accepted(r);
    CHECK(m.text == "ok ÿ");
  }
}

TEST_CASE("no Message-ID: the provider id stays empty (the store hashes)") {
  request r = post(fixture("no_message_id.eml"));
  const inbound_message m = accepted(r);
  CHECK(m.provider_id.empty());
  CHECK(m.identities == std::vector<identity>{{"email", "kiosk@shop.example", false}});
  CHECK(m.sender_name.empty());
  CHECK_FALSE(m.sent_at.has_value());
  CHECK(m.text == "Kiosk 4 in Riga is out of paper again.");
  const auto& e = mail(m);
  CHECK(e.at("message_id").is_null());
  CHECK(e.at("in_reply_to").is_null());
  CHECK(e.at("references").as_array().empty());
  CHECK(e.at("cc").as_array().empty());
}

// An out-of-office as Gmail's vacation responder sends it (RFC 3834 Auto-Submitted).
TEST_CASE("an auto-reply is stored, flagged with the header that says so") {
  request r = post(
      "From: Ann Lee <ann@example.com>\r\nTo: support@acme.example\r\nSubject: Out of office\r\n"
      "Message-ID: <vacation-1@mail.example.com>\r\nAuto-Submitted: auto-replied\r\n"
      "Precedence: bulk\r\n\r\nI am away until Monday.\r\n");
  const inbound_message m = accepted(r);
  CHECK(m.extra.at("auto_reply").as_bool());
  CHECK(m.extra.at("auto_reply_reason").as_string() == "Auto-Submitted: auto-replied");
}

TEST_CASE("a delivery report is counted as ignored") {
  request r = post(fixture("report.eml"));
  auto res = receive(r);
  REQUIRE(res.has_value());
  CHECK(res->messages.empty());
  CHECK(res->ignored == 1);
}

TEST_CASE("the Sender header stands in for an unusable From") {
  request r =
      post("From: undisclosed-recipients:;\r\nSender: Ops Desk <ops@shop.example>\r\n\r\nhi\r\n");
  const inbound_message m = accepted(r);
  CHECK(m.identities == std::vector<identity>{{"email", "ops@shop.example", false}});
  CHECK(m.sender_name == "Ops Desk");
}

TEST_CASE("a single text part is the text even when the mailer named it") {
  request r = post(
      "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8; name=\"body.txt\"\r\n\r\n"
      "the text\r\n");
  const inbound_message m = accepted(r);
  CHECK(m.text == "the text");
  CHECK(m.attachments.empty());
  request r2 = post(
      "From: a@example.com\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; "
      "filename=\"notes.txt\"\r\n\r\nnotes\r\n");
  const inbound_message m2 = accepted(r2);
  CHECK(m2.text.empty());
  REQUIRE(m2.attachments.size() == 1);
  CHECK(m2.attachments[0].name == "notes.txt");
}

TEST_CASE("the daemon's worker threads parse at the same time") {
  const std::vector<std::string> bodies{fixture("mixed_attachments.eml"), fixture("koi8r.eml"),
                                        fixture("alternative_qp.eml"),
                                        fixture("html_only_latin1.eml")};
  auto adapter = make_mime_adapter(mime_config());
  REQUIRE(adapter.has_value());
  const auto expected = [&](std::size_t i) {
    request r = post(bodies[i]);
    auto res = (*adapter)->receive(r.view());
    REQUIRE(res.has_value());
    return res->messages.front().text + "|" + res->messages.front().subject;
  };
  std::vector<std::string> want;
  for (std::size_t i = 0; i < bodies.size(); ++i) want.push_back(expected(i));
  std::vector<std::future<int>> workers;
  for (int t = 0; t < 4; ++t)
    workers.push_back(std::async(std::launch::async, [&, t] {
      int mismatches = 0;
      for (int i = 0; i < 40; ++i) {
        const std::size_t k = static_cast<std::size_t>(t + i) % bodies.size();
        request r = post(bodies[k]);
        auto res = (*adapter)->receive(r.view());
        if (!res || res->messages.size() != 1 ||
            res->messages.front().text + "|" + res->messages.front().subject != want[k])
          ++mismatches;
      }
      return mismatches;
    }));
  for (auto& w : workers) CHECK(w.get() == 0);
}

TEST_CASE("a subject and no body is still a message") {
  request r = post("From: a@example.com\r\nSubject: Call me back please\r\n\r\n");
  const inbound_message m = accepted(r);
  CHECK(m.subject == "Call me back please");
  CHECK(m.text.empty());
}

// ---- authentication ----------------------------------------------------------------------

TEST_CASE("the bearer token is checked before anything else") {
  SUBCASE("missing") {
    request r = post(minimal);
    r.remove("Authorization");
    const error e = refused(r);
    CHECK(e.code == errc::unauthorized);
    CHECK(e.detail == "missing Authorization header (Bearer token)");
  }
  SUBCASE("wrong token") {
    request r = post(minimal, token_b);
    CHECK(refused(r).detail == "wrong bearer token");
  }
  SUBCASE("a prefix of the right token") {
    request r = post(minimal, token_a.substr(0, token_a.size() - 1));
    CHECK(refused(r).code == errc::unauthorized);
  }
  SUBCASE("another scheme") {
    request r = post(minimal);
    r.set("Authorization", "Basic " + token_a);
    CHECK(refused(r).detail == "Authorization must use the Bearer scheme");
  }
  SUBCASE("401 even when everything else is wrong too") {
    request r = post("garbage", token_b);
    r.set("Content-Type", "text/plain");
    CHECK(refused(r).code == errc::unauthorized);
  }
  SUBCASE("rotated secrets: either is accepted; the scheme is case-insensitive") {
    const channel_config cfg = mime_config({token_b, token_a});
    request r = post(minimal, token_a);
    CHECK(accepted(r, cfg).provider_id == "m1@example.com from ann@example.com (unverified)");
    request r2 = post(minimal, token_b);
    r2.set("Authorization", "bearer   " + token_b);
    CHECK(accepted(r2, cfg).provider_id == "m1@example.com from ann@example.com (unverified)");
  }
}

// Issue #18: a Message-ID is no secret (it is in every copy, every reply's In-Reply-To). Keyed
// by it alone, a mail sent first with the real one's Message-ID made the real one a duplicate.
TEST_CASE("the dedupe key is the Message-ID with its sender, and whether the sender is proven") {
  channel_config cfg = mime_config();
  cfg.options["trusted_authserv_id"] = "mx.acme.example";
  const auto mail_from = [&](const std::string& from, const std::string& auth) {
    request r = post(auth + "From: " + from +
                     "\r\nTo: support@acme.example\r\nSubject: New bank details\r\n"
                     "Message-ID: <CAF7k2pQ.1159@mail.example.lv>\r\n\r\nPlease pay to ...\r\n");
    return accepted(r, cfg).provider_id;
  };
  const std::string dmarc_pass =
      "Authentication-Results: mx.acme.example; dmarc=pass header.from=example.lv\r\n";
  const std::string real = mail_from("Janis <janis@example.lv>", dmarc_pass);
  CHECK(real == "CAF7k2pQ.1159@mail.example.lv from janis@example.lv");
  // The same mail again (a provider's retry) has the same key.
  CHECK(mail_from("Janis <janis@example.lv>", dmarc_pass) == real);
  // Another sender, or the same address without the proof, cannot take the real mail's key.
  CHECK(mail_from("x@attacker.example", "") ==
        "CAF7k2pQ.1159@mail.example.lv from x@attacker.example (unverified)");
  CHECK(mail_from("Janis <janis@example.lv>", "") ==
        "CAF7k2pQ.1159@mail.example.lv from janis@example.lv (unverified)");
}

TEST_CASE("Content-Type must be message/rfc822") {
  for (const char* ok : {"message/rfc822", "Message/RFC822", "message/rfc822; charset=utf-8"}) {
    CAPTURE(ok);
    request r = post(minimal);
    r.set("Content-Type", ok);
    CHECK(accepted(r).subject == "Hi");
  }
  for (const char* wrong : {"text/plain", "application/octet-stream", ""}) {
    CAPTURE(wrong);
    request r = post(minimal);
    r.set("Content-Type", wrong);
    const error e = refused(r);
    CHECK(e.code == errc::unsupported_media_type);
    CHECK(e.detail == "Content-Type must be message/rfc822");
  }
  request r = post(minimal);
  r.remove("Content-Type");
  CHECK(refused(r).code == errc::unsupported_media_type);
}

// ---- malformed and hostile bodies ---------------------------------------------------------

// An MTA bounces a refused mail, often to nobody: a mail that cannot be read is kept.
TEST_CASE("bodies that are not a usable message are kept, not refused") {
  SUBCASE("empty: there is nothing to keep") {
    request r = post("\r\n");
    const error e = refused(r);
    CHECK(e.code == errc::malformed);
    CHECK(e.detail == "the body is empty: it must be the mail (RFC 5322)");
  }
  SUBCASE("no From") {
    request r = post("To: support@acme.example\r\nSubject: x\r\n\r\nbody\r\n");
    const unreadable_event u = kept_unreadable(receive(r));
    CHECK(u.path == "body");
    CHECK(u.reason == "header From is required");
    CHECK(u.event.empty());  // not JSON: the kept body is the mail itself
  }
  SUBCASE("a From that is not an address") {
    request r = post("From: Ann Lee\r\nSubject: x\r\n\r\nbody\r\n");
    CHECK(kept_unreadable(receive(r)).reason == "header From is not a valid email address");
  }
  SUBCASE("plain text, no header at all") {
    request r = post("just some words, no headers\r\nand a second line\r\n");
    CHECK(kept_unreadable(receive(r)).path == "body");
  }
  SUBCASE("binary garbage") {
    std::string junk;
    for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 131 + 7) % 256);
    request r = post(junk);
    CHECK(kept_unreadable(receive(r)).path == "body");
  }
}

TEST_CASE("every truncation of a multipart message is handled without a crash") {
  const std::string full = fixture("mixed_attachments.eml");
  std::size_t ok = 0;
  std::size_t refused_count = 0;
  for (std::size_t n = 0; n < full.size(); n += 7) {
    request r = post(full.substr(0, n));
    auto res = receive(r);
    if (res) {
      ++ok;
      for (const auto& m : res->messages) {
        CHECK(m.attachments.size() <= 3);
        for (const auto& a : m.attachments)
          CHECK(a.size.value_or(0) <= static_cast<std::int64_t>(full.size()));
      }
    } else {
      ++refused_count;
      CHECK(res.error().code == errc::malformed);
    }
  }
  CHECK(ok > 0);  // cut after the From header, a message is still a message
  CHECK(refused_count > 0);
}

std::string with_attachments(int n) {
  std::string m = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
  m += "--b\r\nContent-Type: text/plain\r\n\r\nsee the files\r\n";
  for (int i = 0; i < n; ++i)
    m += "--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"f" +
         std::to_string(i) + ".csv\"\r\n\r\na,b\r\n";
  return m + "--b--\r\n";
}

TEST_CASE("limits: attachments kept, parts, depth and headers") {
  SUBCASE("100 attachments are kept, the rest counted") {
    request r = post(with_attachments(103));
    const inbound_message m = accepted(r);
    CHECK(m.attachments.size() == 100);
    CHECK(m.attachments[99].name == "f99.csv");
    CHECK(m.attachments[0].size == 3);
    CHECK(mail(m).at("attachments_omitted").as_uint64() == 3);
    CHECK(m.text == "see the files");
  }
  SUBCASE("more than 1000 MIME parts") {
    request r = post(with_attachments(1000));
    CHECK(kept_unreadable(receive(r)).reason == "the message has more than 1000 MIME parts");
  }
  SUBCASE("nested more than 32 deep") {
    std::string m = "From: a@example.com\r\n";
    for (int i = 0; i < 70; ++i)
      m += "Content-Type: multipart/mixed; boundary=\"n" + std::to_string(i) + "\"\r\n\r\n--n" +
           std::to_string(i) + "\r\n";
    m += "Content-Type: text/plain\r\n\r\ndeep\r\n";
    request r = post(m);
    CHECK(kept_unreadable(receive(r)).reason == "MIME parts are nested more than 32 deep");
  }
  SUBCASE("more than 1000 header fields") {
    std::string m = "From: a@example.com\r\n";
    for (int i = 0; i < 1001; ++i) m += "X-Trace: " + std::to_string(i) + "\r\n";
    request r = post(m + "\r\nbody\r\n");
    CHECK(kept_unreadable(receive(r)).reason == "body has more than 1000 header fields");
  }
}

// Multiparts nested `levels` deep, each level a part of the one above (boundaries n0, n1, ...),
// the innermost holding `text`, every multipart closed.
std::string nested(int levels, std::string_view text = "deep") {
  std::string m = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"n0\"\r\n\r\n";
  for (int i = 1; i < levels; ++i)
    m += "--n" + std::to_string(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=\"n" +
         std::to_string(i) + "\"\r\n\r\n";
  m += "--n" + std::to_string(levels - 1) + "\r\nContent-Type: text/plain\r\n\r\n" +
       std::string(text) + "\r\n";
  for (int i = levels - 1; i >= 0; --i) m += "--n" + std::to_string(i) + "--\r\n";
  return m;
}

// Issue #18: the structure is checked in one pass before GMime reads the mail (GMime builds all
// of it first: hundreds of milliseconds per MiB of nested or many parts). The time is
// bench/worst_case.sh's; these check what is refused and what is not.
TEST_CASE("structure bounds, checked before the mail is parsed") {
  const std::string deep = "MIME parts are nested more than 32 deep";
  SUBCASE("32 levels of multiparts are read, 33 are not") {
    request ok = post(nested(32));
    CHECK(accepted(ok).text == "deep");
    request r = post(nested(33));
    CHECK(kept_unreadable(receive(r)).reason == deep);
  }
  SUBCASE("thousands of levels: refused at the 33rd") {
    request r = post(nested(5000));
    CHECK(kept_unreadable(receive(r)).reason == deep);
  }
  SUBCASE("attached messages count as levels") {
    std::string m = "From: a@example.com\r\n";
    for (int i = 0; i < 40; ++i) m += "Content-Type: message/rfc822\r\n\r\nFrom: b@example.com\r\n";
    request r = post(m + "\r\ninner\r\n");
    CHECK(kept_unreadable(receive(r)).reason == deep);
  }
  SUBCASE("a digest's parts are messages without saying so") {
    std::string m = "From: a@example.com\r\n";
    for (int i = 0; i < 20; ++i)
      m += "Content-Type: multipart/digest; boundary=d" + std::to_string(i) + "\r\n\r\n--d" +
           std::to_string(i) + "\r\n\r\n";
    request r = post(m + "inner\r\n");
    CHECK(kept_unreadable(receive(r)).reason == deep);
  }
  SUBCASE("a part's header block ended by the delimiter of its own boundary nests, as in GMime") {
    // No empty line after each Content-Type: the delimiter ends the header block, and GMime
    // reads it again as the first delimiter of the multipart just declared, one level deeper.
    // Inside an attached message, which the walk after GMime does not enter: only the check
    // before GMime sees these levels.
    std::string m =
        "From: a@example.com\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.com\r\n"
        "Content-Type: multipart/mixed; boundary=P\r\n\r\n";
    for (int i = 0; i < 40; ++i) m += "--P\r\nContent-Type: multipart/mixed; boundary=P\r\n";
    request r = post(m + "--P\r\n\r\ntext\r\n--P--\r\n");
    CHECK(kept_unreadable(receive(r)).reason == deep);
  }
  SUBCASE("a boundary of 71 characters is refused, 70 is read (RFC 2046)") {
    const auto mail = [](const std::string& b) {
      return "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"" + b +
             "\"\r\n\r\n--" + b + "\r\nContent-Type: text/plain\r\n\r\nhello\r\n--" + b + "--\r\n";
    };
    request ok = post(mail(std::string(70, 'b')));
    CHECK(accepted(ok).text == "hello");
    request r = post(mail(std::string(71, 'b')));
    CHECK(kept_unreadable(receive(r)).reason ==
          "body has a multipart boundary longer than 70 characters (RFC 2046 allows 1 to 70)");
    request huge = post(mail(std::string(100000, '-')));
    CHECK(kept_unreadable(receive(huge)).reason ==
          "body has a multipart boundary longer than 70 characters (RFC 2046 allows 1 to 70)");
  }
  SUBCASE("a part's header fields, and all of them together") {
    std::string one =
        "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n";
    for (int i = 0; i < 1001; ++i) one += "X-Part: " + std::to_string(i) + "\r\n";
    request r = post(one + "\r\ntext\r\n--b--\r\n");
    CHECK(kept_unreadable(receive(r)).reason ==
          "body has a MIME part with more than 1000 header fields");
    std::string all = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
    for (int p = 0; p < 11; ++p) {
      all += "--b\r\n";
      for (int i = 0; i < 950; ++i) all += "X-Part: " + std::to_string(i) + "\r\n";
      all += "\r\ntext\r\n";
    }
    request r2 = post(all + "--b--\r\n");
    CHECK(kept_unreadable(receive(r2)).reason == "body has more than 10000 header fields in all");
  }
  SUBCASE("lines like delimiters deep inside: bounded, and real text is read") {
    // GMime compares each line starting with "--" with every open boundary.
    std::string lines;
    for (int i = 0; i < 40000; ++i) lines += "--n3\t.\r\n";
    request r = post(nested(32, lines));
    CHECK(kept_unreadable(receive(r))
              .reason.starts_with(
                  "body has too many lines starting with \"--\" inside multiparts nested 32 deep"));
    // A text attachment of "-- comment" lines (an SQL dump) a few levels down is read.
    std::string sql;
    for (int i = 0; i < 40000; ++i) sql += "-- comment " + std::to_string(i) + "\r\n";
    request ok = post(nested(3, sql));
    CHECK(accepted(ok).text.starts_with("-- comment 0\n-- comment 1\n"));
  }
  SUBCASE("a base64 message/rfc822 part is a leaf: its lines are not header fields") {
    std::string m =
        "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: message/rfc822\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n";
    for (int i = 0; i < 3000; ++i) m += "RnJvbTogYkBleGFtcGxlLmNvbQ0KDQpoZWxsbw0K\r\n";
    request r = post(m + "--b--\r\n");
    const inbound_message msg = accepted(r);
    CHECK(msg.text == "see attached");
    CHECK(msg.attachments.size() == 1);
  }
}

TEST_CASE("over-long and odd Message-IDs") {
  SUBCASE("longer than 256 bytes: not used as the provider id") {
    request r = post("From: a@example.com\r\nMessage-ID: <" + std::string(300, 'x') +
                     "@example.com>\r\n\r\nhi\r\n");
    const inbound_message m = accepted(r);
    CHECK(m.provider_id.empty());
    CHECK(mail(m).at("message_id").is_null());
  }
  SUBCASE("without angle brackets") {
    request r = post("From: a@example.com\r\nMessage-ID: bare-id@example.com\r\n\r\nhi\r\n");
    CHECK(accepted(r).provider_id == "bare-id@example.com from a@example.com (unverified)");
  }
}

}  // namespace
}  // namespace sb
