#include "routing/language.hpp"

#include <doctest/doctest.h>

#include <string>

using sb::detect_language;

TEST_CASE("detect_language: reliable sentences") {
  CHECK(detect_language("Labdien, man ir jautājums par savu rēķinu, lūdzu palīdziet.") == "lv");
  CHECK(detect_language("Laba diena, turiu klausimą dėl sąskaitos, prašau padėti.") == "lt");
  CHECK(detect_language("Hello, I have a question about my invoice, could you please help me?") ==
        "en");
  CHECK(detect_language(
            "Guten Tag, ich habe eine Frage zu meiner Rechnung, können Sie mir bitte helfen?") ==
        "de");
  CHECK(detect_language("Здравствуйте, у меня вопрос по счёту, помогите пожалуйста.") == "ru");
  // Short, but a sentence
  CHECK(detect_language("Kur ir mans pasūtījums?") == "lv");
  CHECK(detect_language("Kur yra mano užsakymas?") == "lt");
  // Withdrawn codes come out as ISO 639-1 today
  CHECK(detect_language("שלום, יש לי שאלה לגבי החשבונית שלי ואני צריך עזרה") == "he");
}

TEST_CASE("detect_language: too short, ambiguous or not text") {
  CHECK_FALSE(detect_language("").has_value());
  CHECK_FALSE(detect_language("ok").has_value());
  CHECK_FALSE(detect_language("Hi").has_value());
  CHECK_FALSE(detect_language("ok thanks 123").has_value());
  CHECK_FALSE(detect_language("Paldies!").has_value());  // CLD2 alone says "reliable English"
  CHECK_FALSE(detect_language("12345 !!! ???").has_value());
  CHECK_FALSE(detect_language("\xff\xfe invalid UTF-8 \xc3 here, no language").has_value());
}

TEST_CASE("detect_language: long text is read in bounds") {
  std::string long_text;
  while (long_text.size() < 200 * 1024)
    long_text += "Labdien, man ir jautājums par savu rēķinu, lūdzu palīdziet. ";
  CHECK(detect_language(long_text) == "lv");
}

TEST_CASE("normalize_language_tag") {
  using sb::normalize_language_tag;
  CHECK(normalize_language_tag("lv") == "lv");
  CHECK(normalize_language_tag("en-US") == "en");
  CHECK(normalize_language_tag("pt_BR") == "pt");
  CHECK(normalize_language_tag("LT") == "lt");
  CHECK(normalize_language_tag("iw") == "he");
  CHECK_FALSE(normalize_language_tag("").has_value());
  CHECK_FALSE(normalize_language_tag("e").has_value());
  CHECK_FALSE(normalize_language_tag("eng").has_value());
  CHECK_FALSE(normalize_language_tag("und").has_value());
  CHECK_FALSE(normalize_language_tag("1a").has_value());
}

TEST_CASE("message_language: the provider's hint first, else subject and text") {
  sb::inbound_message m;
  m.text = "Hello, I have a question about my invoice, could you please help me?";
  CHECK(sb::message_language(m) == "en");
  m.language = "lv-LV";  // the provider knows better than a guess
  CHECK(sb::message_language(m) == "lv");
  m.language = "und";  // an unusable hint falls back to detection
  CHECK(sb::message_language(m) == "en");
  m.language.reset();
  m.text = "ok";
  CHECK_FALSE(sb::message_language(m).has_value());
  m.subject = "Rechnung für März ist falsch, bitte korrigieren";
  CHECK(sb::message_language(m) == "de");  // the subject carries it
  m.text.clear();
  CHECK(sb::message_language(m) == "de");
}

// A Twilio missed call's text is "missed call": CLD2 calls that English (issue #17).
TEST_CASE("message_language: Switchboard's own wording is not the customer's language") {
  sb::inbound_message m;
  m.text = "missed call from the customer, please call them back";
  CHECK(sb::message_language(m) == "en");  // detection would say English...
  m.generated_text_from = 0;
  CHECK_FALSE(sb::message_language(m).has_value());  // ...but it is not the customer's
  // A Latvian caption before a shared location: the caption alone decides.
  m.text =
      "Mēs gaidīsim jūs pie ieejas tirgū, lūdzu, atnāciet laicīgi\nLocation: Rīgas Centrāltirgus "
      "(56.944328, 24.114316)";
  m.generated_text_from = m.text.find('\n') + 1;
  CHECK(sb::message_language(m) == "lv");
}
