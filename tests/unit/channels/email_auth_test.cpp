#include "channels/email/auth.hpp"

#include "channels/email/email.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace sb::email {
namespace {

using headers = std::vector<std::pair<std::string, std::string>>;

// RFC 7489 3.1.1: relaxed alignment, the organizational domain's family.
TEST_CASE("aligned: the From domain, its parents and children, never a TLD") {
  CHECK(aligned("example.com", "example.com"));
  CHECK(aligned("EXAMPLE.com", "example.COM"));
  CHECK(aligned("example.com", "mail.example.com"));
  CHECK(aligned("mail.example.com", "example.com"));
  CHECK_FALSE(aligned("example.org", "example.com"));
  CHECK_FALSE(aligned("badexample.com", "example.com"));
  CHECK_FALSE(aligned("com", "example.com"));
  CHECK_FALSE(aligned("", "example.com"));
}

// RFC 8601 and its examples.
TEST_CASE("Authentication-Results: the topmost of a trusted authserv-id, read with comments") {
  const std::vector<std::string> trusted{"mx.acme.example"};
  SUBCASE("dmarc=pass") {
    const headers h{{"Authentication-Results",
                     "mx.acme.example; spf=pass smtp.mailfrom=example.com; dkim=pass (2048-bit "
                     "key; unprotected) header.d=example.com header.s=s1; dmarc=pass (p=REJECT "
                     "sp=REJECT dis=NONE) header.from=example.com"}};
    const auto e = from_authentication_results(h, trusted);
    REQUIRE(e);
    CHECK(e->dmarc == "pass");
    CHECK(e->spf == "pass");
    REQUIRE(e->dkim.size() == 1);
    CHECK(e->dkim[0] == std::pair<std::string, std::string>{"example.com", "pass"});
    const auto v = verdict_for(*e, "example.com");
    CHECK(v.verdict == auth_verdict::pass);
    CHECK(v.reason == "dmarc=pass (mx.acme.example)");
  }
  SUBCASE("a header claiming another authserv-id (the sender's own, a forger's) is not read") {
    const headers h{
        {"Authentication-Results", "mx.forger.example; dmarc=pass"},
        {"Authentication-Results", "MX.ACME.EXAMPLE 1; dmarc=fail header.from=example.com"}};
    const auto e = from_authentication_results(h, trusted);
    REQUIRE(e);
    CHECK(verdict_for(*e, "example.com").verdict == auth_verdict::fail);
  }
  SUBCASE("only the topmost trusted one: a copy below is the sender's") {
    const headers h{{"Authentication-Results", "mx.acme.example; dkim=none"},
                    {"Authentication-Results", "mx.acme.example; dmarc=pass"}};
    CHECK(verdict_for(*from_authentication_results(h, trusted), "example.com").verdict ==
          auth_verdict::none);
  }
  SUBCASE("DKIM aligned passes without DMARC; a stranger's signature does not") {
    const headers h{{"Authentication-Results",
                     "mx.acme.example; dkim=pass header.i=@mail.example.com; dkim=pass "
                     "header.d=mailer.example.net"}};
    const auto e = from_authentication_results(h, trusted);
    CHECK(verdict_for(*e, "example.com").verdict == auth_verdict::pass);
    CHECK(verdict_for(*e, "other.org").verdict == auth_verdict::none);
  }
  SUBCASE("a DMARC result about another domain says nothing of this From") {
    const headers h{
        {"Authentication-Results", "mx.acme.example; dmarc=pass header.from=attacker.example"}};
    const auto e = from_authentication_results(h, trusted);
    CHECK(verdict_for(*e, "attacker.example").verdict == auth_verdict::pass);
    CHECK(verdict_for(*e, "example.com").verdict == auth_verdict::none);
  }
  SUBCASE("nothing trusted: nothing read") {
    const headers h{{"Authentication-Results", "mx.acme.example; dmarc=pass"}};
    CHECK_FALSE(from_authentication_results(h, {}));
  }
}

// Mailgun's spam filter headers sit above its own Received line (django-anymail's fixture,
// real captures); a copy the sender wrote into the mail sits below it.
TEST_CASE("Mailgun: its verdict above its Received line, the one DKIM-Signature's domain") {
  const headers real{{"X-Mailgun-Dkim-Check-Result", "Pass"},
                     {"X-Mailgun-Spf", "Pass"},
                     {"X-Mailgun-Incoming", "Yes"},
                     {"Received", "from mail.example.org by mxa.mailgun.org"},
                     {"DKIM-Signature", "v=1; a=rsa-sha256; d=example.org; s=s1; b=abc"},
                     {"From", "Ann <ann@example.org>"}};
  auto e = from_mailgun(real);
  REQUIRE(e);
  CHECK(verdict_for(*e, "example.org").verdict == auth_verdict::pass);
  CHECK(verdict_for(*e, "example.org").reason == "dkim=pass header.d=example.org (Mailgun)");

  const headers forged{{"Received", "from evil.example by mxa.mailgun.org"},
                       {"X-Mailgun-Dkim-Check-Result", "Pass"},
                       {"DKIM-Signature", "v=1; d=example.org; b=forged"}};
  e = from_mailgun(forged);
  CHECK((!e || verdict_for(*e, "example.org").verdict == auth_verdict::none));

  const headers two{{"X-Mailgun-Dkim-Check-Result", "Pass"},
                    {"Received", "from x by mxa.mailgun.org"},
                    {"DKIM-Signature", "d=example.org"},
                    {"DKIM-Signature", "d=attacker.example"}};
  e = from_mailgun(two);
  CHECK((!e || verdict_for(*e, "example.org").verdict == auth_verdict::none));

  const headers failed{{"X-Mailgun-Dkim-Check-Result", "Fail"},
                       {"X-Mailgun-Spf", "SoftFail"},
                       {"Received", "from x by mxa.mailgun.org"},
                       {"DKIM-Signature", "d=example.org"}};
  CHECK(verdict_for(*from_mailgun(failed), "example.org").verdict == auth_verdict::fail);
  CHECK_FALSE(from_mailgun(headers{{"Received", "x"}}));
}

// SendGrid Inbound Parse: SPF and dkim fields (sendgrid/docs issues #1991, #6483).
TEST_CASE("SendGrid: the dkim field's domains and results") {
  auto e = from_sendgrid("pass", "{@example.fr : pass}");
  REQUIRE(e);
  CHECK(verdict_for(*e, "example.fr").verdict == auth_verdict::pass);
  e = from_sendgrid("pass", "{@gappssmtp.com : pass, @example.fr : fail}");
  CHECK(verdict_for(*e, "example.fr").verdict == auth_verdict::none);  // SPF passing is not From
  e = from_sendgrid("fail", "{@example.fr : fail}");
  CHECK(verdict_for(*e, "example.fr").verdict == auth_verdict::fail);
  e = from_sendgrid("pass", "{@example.fr : pass (Can't locate Mail/DKIM.pm in @INC)}");
  CHECK(verdict_for(*e, "example.fr").verdict == auth_verdict::pass);
  e = from_sendgrid("", "none");
  CHECK((!e || verdict_for(*e, "example.fr").verdict == auth_verdict::none));
  CHECK_FALSE(from_sendgrid("", ""));
}

// Postmark's headers precede the mail's first "Received: from" (real payloads, 2025).
TEST_CASE("Postmark: SpamAssassin's DKIM_VALID_AU and Received-SPF, from its own headers") {
  const headers real{
      {"Return-Path", "<ann@example.dev>"},
      {"Received", "by p-pm-inboundg03a-aws-euwest1a.inbound.postmarkapp.com (Postfix)"},
      {"X-Spam-Tests", "DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,HTML_MESSAGE,\tSPF_PASS"},
      {"Received-SPF", "pass (example.dev: Sender is authorized) receiver=p-pm-inbound"},
      {"Received", "from out.example.dev by p-pm-inboundg03a-aws-euwest1a"},
      {"DKIM-Signature", "v=1; d=example.dev"}};
  auto e = from_postmark(real);
  REQUIRE(e);
  CHECK(e->spf == "pass");
  CHECK(verdict_for(*e, "example.dev").verdict == auth_verdict::pass);

  const headers forged{{"Received", "from evil.example by p-pm-inbound"},
                       {"X-Spam-Tests", "DKIM_VALID_AU"}};
  e = from_postmark(forged);
  CHECK((!e || verdict_for(*e, "example.dev").verdict == auth_verdict::none));
}

TEST_CASE("to_inbound: a proven From is verified, a failed one joins nobody") {
  parsed_email e;
  e.senders.push_back({"header From", {"Ann", "ann@example.com"}});
  e.text = "hi";
  SUBCASE("no evidence: a claim") {
    const auto m = to_inbound(e);
    CHECK_FALSE(m->identities.at(0).verified);
    CHECK_FALSE(m->authentication_failed);
    CHECK(m->extra.at("sender_authenticated").as_string() == "none");
    CHECK_FALSE(m->extra.contains("sender_authentication"));
  }
  SUBCASE("pass") {
    e.auth = auth_evidence{.dmarc = "pass", .source = "mx.acme.example"};
    const auto m = to_inbound(e);
    CHECK(m->identities.at(0).verified);
    CHECK(m->extra.at("sender_authenticated").as_string() == "pass");
    CHECK(m->extra.at("sender_authentication").as_string() == "dmarc=pass (mx.acme.example)");
  }
  SUBCASE("a verdict is about the From header: a fallback sender gets none") {
    parsed_email f;
    f.senders.push_back({"header From", {"", "not an address"}});
    f.senders.push_back({"header Sender", {"", "victim@example.com"}});
    f.auth = auth_evidence{.dmarc = "pass", .source = "mx.acme.example"};
    const auto m = to_inbound(f);
    CHECK(m->identities.at(0).value == "victim@example.com");
    CHECK_FALSE(m->identities.at(0).verified);
    CHECK(m->extra.at("sender_authenticated").as_string() == "none");
  }
  SUBCASE("fail") {
    e.auth = auth_evidence{.dmarc = "fail", .source = "mx.acme.example"};
    const auto m = to_inbound(e);
    CHECK_FALSE(m->identities.at(0).verified);
    CHECK(m->authentication_failed);
    CHECK(m->extra.at("sender_authenticated").as_string() == "fail");
  }
}

TEST_CASE("trusted_authserv_ids: comma or space separated, case-insensitive") {
  CHECK(trusted_authserv_ids("MX1.acme.example, mx2.acme.example  mx3") ==
        std::vector<std::string>{"mx1.acme.example", "mx2.acme.example", "mx3"});
  CHECK(trusted_authserv_ids("").empty());
}

}  // namespace
}  // namespace sb::email
