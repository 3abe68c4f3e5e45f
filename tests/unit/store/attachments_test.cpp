// Attachments kept (docs/attachments.md): the blob store, what keep_attachments() decides before
// the commit, the rows the commit writes, the media fetcher's record, and the blobs erasure and
// retention remove.
#include "store_fixture.hpp"

#include "channels/crypto.hpp"
#include "store/attachments.hpp"
#include "store/blob_store.hpp"
#include "store/reader.hpp"

#include <boost/json/parse.hpp>

#include <fstream>
#include <iterator>

namespace sb::test {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every file under `dir` whose bytes hold `needle`.
std::size_t files_holding(const std::filesystem::path& dir, const std::string& needle) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && slurp(e.path()).find(needle) != std::string::npos) ++n;
  return n;
}

constexpr char raw_pdf[] = "%PDF-1.7\0\xff\xfe binary \x01\x02 CANARY-a77c.";
const std::string binary(raw_pdf, sizeof raw_pdf - 1);  // 34 bytes, a NUL among them

attachment file(std::string name, std::string bytes) {
  attachment a;
  a.name = std::move(name);
  a.content_type = "application/pdf";
  a.bytes = std::move(bytes);
  return a;
}

channel_config chat_channel() {
  channel_config c;
  c.name = "web-chat";
  c.type = "chat";
  return c;
}

}  // namespace

TEST_CASE("blob store: content-addressed, durable by the time put returns, removable") {
  temp_db t;
  const std::string dir = (t.dir / "blobs").string();
  std::filesystem::create_directories(dir + "/tmp");
  std::ofstream(dir + "/tmp/left-by-a-crash") << "partial";
  auto blobs = open_local_blob_store(dir);
  REQUIRE(blobs.has_value());
  CHECK(std::filesystem::is_empty(dir + "/tmp"));  // a crash's leftovers are cleared at open
  auto sha = (*blobs)->put(binary);
  REQUIRE(sha.has_value());
  CHECK(*sha == sha256_hex(binary));
  const auto path = std::filesystem::path(dir) / sha->substr(0, 2) / *sha;
  CHECK(slurp(path) == binary);
  CHECK((std::filesystem::status(dir).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  CHECK((*blobs)->put(binary).value() == *sha);  // the same content again: one file
  CHECK(std::distance(std::filesystem::directory_iterator(path.parent_path()),
                      std::filesystem::directory_iterator()) == 1);
  CHECK((*blobs)->get(*sha).value() == binary);
  CHECK((*blobs)->get(std::string(64, '0')).error().code == errc::not_found);
  CHECK((*blobs)->get("../../etc/passwd").error().code == errc::not_found);
  // Pinned by its two puts until each is released: a removal meanwhile leaves it.
  (*blobs)->remove(*sha);
  CHECK(std::filesystem::exists(path));
  (*blobs)->release(*sha);
  (*blobs)->remove(*sha);
  CHECK(std::filesystem::exists(path));
  (*blobs)->release(*sha);
  (*blobs)->remove(*sha);
  CHECK(!std::filesystem::exists(path));
  CHECK((*blobs)->get(*sha).error().code == errc::not_found);
}

TEST_CASE("keep_attachments: files carried are stored, references wait, limits are visible") {
  temp_db t;
  auto blobs = open_local_blob_store((t.dir / "blobs").string());
  REQUIRE(blobs.has_value());
  attachment_options opts;
  opts.max_file_bytes = 100;
  opts.max_message_bytes = 150;
  opts.url_base = "https://sb.example.com";
  inbound_message m;
  m.attachments.push_back(file("a.pdf", binary));
  m.attachments.push_back(file("big.bin", std::string(101, 'x')));  // over the file limit
  m.attachments.push_back(file("b.pdf", std::string(90, 'y')));     // 34 + 90 = 124: fits
  m.attachments.push_back(file("c.pdf", std::string(30, 'z')));     // 154: over the message's
  attachment media;
  media.name = "photo.jpg";
  media.fetch_kind = "url";
  media.fetch_ref = "https://cdn.example.com/p.jpg";
  media.url = media.fetch_ref;
  m.attachments.push_back(media);
  attachment unknown;
  unknown.name = "x";
  unknown.fetch_kind = "carrier-pigeon";
  unknown.fetch_ref = "coo";
  unknown.url = "https://elsewhere.example.com/x";
  m.attachments.push_back(unknown);
  std::vector<inbound_message> msgs{m};
  auto kept = keep_attachments(**blobs, opts, chat_channel(), msgs);
  REQUIRE(kept.has_value());
  CHECK(kept->stored == 2);
  CHECK(kept->too_large == 2);
  CHECK(kept->pending == 1);
  CHECK(kept->not_kept == 1);
  CHECK(kept->bytes == 124);
  const auto& a = msgs[0].attachments;
  CHECK(a[0].state == "stored");
  CHECK(a[0].sha256 == sha256_hex(binary));
  CHECK(!a[0].bytes);  // on disk now, not carried to the writer
  CHECK(a[0].size == 34);
  CHECK(a[0].url == "https://sb.example.com/v1/attachments/" + a[0].id);
  CHECK(a[1].state == "too_large");
  CHECK(a[1].size == 101);
  CHECK(a[1].sha256.empty());
  CHECK(a[2].state == "stored");
  CHECK(a[3].state == "too_large");
  CHECK(a[4].state == "pending");
  CHECK(a[4].url == "https://sb.example.com/v1/attachments/" + a[4].id);
  CHECK(a[5].state == "not_kept");
  CHECK(a[5].url == "https://elsewhere.example.com/x");  // the provider's, as it came
  for (const auto& x : a) CHECK(!x.id.empty());
  CHECK((*blobs)->get(sha256_hex(std::string(101, 'x'))).error().code == errc::not_found);
}

TEST_CASE("the commit writes a row per attachment; the fetcher's record completes it") {
  fixture f;
  auto& blobs = f.store->blobs();
  inbound_message m = chat_message("c-1", "v-1", "see the files");
  m.attachments.push_back(file("a.pdf", binary));
  attachment media;
  media.name = "photo.jpg";
  media.content_type = "";
  media.fetch_kind = "url";
  media.fetch_ref = "https://cdn.example.com/p.jpg";
  m.attachments.push_back(media);
  std::vector<inbound_message> msgs{m};
  REQUIRE(keep_attachments(blobs, f.opts.attachments, chat_channel(), msgs).has_value());
  const std::string stored_id = msgs[0].attachments[0].id;
  const std::string pending_id = msgs[0].attachments[1].id;
  auto out = f.ingest(request(t0, msgs));
  REQUIRE(out.accepted.size() == 1);
  // The payload's message shows each file's id, state and URL.
  const auto rows = f.outbox();
  REQUIRE(rows.size() == 1);
  auto reader = open_sqlite_reader(f.opts.path);
  REQUIRE(reader.has_value());
  auto rec = (*reader)->attachment(stored_id);
  REQUIRE(rec.has_value());
  CHECK(rec->state == "stored");
  CHECK(rec->sha256 == sha256_hex(binary));
  CHECK(rec->size == 34);
  CHECK(rec->name == "a.pdf");
  CHECK(rec->message_id == out.accepted[0].message_id);
  CHECK((*reader)->attachment("nope") == std::nullopt);

  auto media_reader = f.store->open_media_reader();
  REQUIRE(media_reader.has_value());
  CHECK((*media_reader)->pending() == 1);
  auto due = (*media_reader)->due(t0, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == pending_id);
  CHECK(due[0].kind == "url");
  CHECK(due[0].ref == "https://cdn.example.com/p.jpg");
  CHECK(due[0].created_at == t0);
  CHECK((*media_reader)->due(t0 - 1, 10).empty());

  // A retry later, then the file.
  f.store->record_media(
      std::vector<media_update>{{pending_id, "pending", "", {}, "", t0 + minute, "HTTP 503"}});
  CHECK((*media_reader)->due(t0 + 1, 10).empty());
  REQUIRE((*media_reader)->due(t0 + minute, 10).size() == 1);
  CHECK((*media_reader)->due(t0 + minute, 10)[0].attempts == 1);
  const std::string photo = "JPEG bytes";
  auto sha = blobs.put(photo);
  REQUIRE(sha.has_value());
  f.store->record_media(std::vector<media_update>{
      {pending_id, "stored", *sha, std::int64_t(photo.size()), "image/jpeg", 0, ""}});
  rec = (*reader)->attachment(pending_id);
  REQUIRE(rec.has_value());
  CHECK(rec->state == "stored");
  CHECK(rec->content_type == "image/jpeg");  // the provider's, as the row had none
  CHECK(rec->size == 10);
  CHECK(rec->attempts == 2);
  CHECK((*media_reader)->pending() == 0);
  CHECK(f.count("SELECT count(*) FROM attachments WHERE fetch_ref IS NOT NULL") == 0);

  // A record for a row that is gone (erased meanwhile): its blob does not stay behind.
  auto orphan = blobs.put("fetched for a message erased meanwhile");
  REQUIRE(orphan.has_value());
  f.store->record_media(
      std::vector<media_update>{{"gone", "stored", *orphan, std::int64_t(38), "", 0, ""}});
  CHECK(blobs.get(*orphan).error().code == errc::not_found);
}

TEST_CASE("erasure and retention remove the files only their messages named") {
  store_options o;
  fixture f(o);
  auto& blobs = f.store->blobs();
  const auto blob_dir = std::filesystem::path(attachment_directory(f.opts));
  const auto with_files = [&](std::string id, std::string visitor, millis at,
                              std::vector<std::string> contents) {
    inbound_message m = chat_message(std::move(id), std::move(visitor), "files");
    for (auto& c : contents) m.attachments.push_back(file("f.bin", std::move(c)));
    std::vector<inbound_message> msgs{m};
    REQUIRE(keep_attachments(blobs, f.opts.attachments, chat_channel(), msgs).has_value());
    return f.ingest(request(at, msgs)).accepted.at(0);
  };
  const std::string shared = "the same brochure, sent by both";
  const auto ann = with_files("c-1", "v-1", t0, {binary, shared});
  with_files("c-2", "v-2", t0, {shared});
  CHECK(files_holding(blob_dir, "CANARY-a77c") == 1);

  auto r = f.store->erase_customer(ann.customer_id, t0 + minute);
  REQUIRE(r.has_value());
  CHECK(r->attachments == 2);
  CHECK(files_holding(blob_dir, "CANARY-a77c") == 0);
  CHECK(blobs.get(sha256_hex(shared)).has_value());  // Bob's copy stays
  CHECK(f.count("SELECT count(*) FROM attachments") == 1);

  // The provider retries her message: a duplicate, whose files are written before the
  // commit finds that out, and removed after it.
  inbound_message retry = chat_message("c-1", "v-1", "files");
  retry.attachments.push_back(file("f.bin", binary));
  std::vector<inbound_message> again{retry};
  REQUIRE(keep_attachments(blobs, f.opts.attachments, chat_channel(), again).has_value());
  CHECK(files_holding(blob_dir, "CANARY-a77c") == 1);
  CHECK(f.ingest(request(t0 + 2 * minute, again)).duplicates == 1);
  CHECK(files_holding(blob_dir, "CANARY-a77c") == 0);
  CHECK(f.count("SELECT count(*) FROM attachments") == 1);

  f.publish_all();
  retention_options keep;
  keep.max_age = std::chrono::milliseconds(day);
  auto pass = f.store->retain(keep, t0 + 2 * day);
  REQUIRE(pass.has_value());
  CHECK(pass->attachments == 1);
  CHECK(f.count("SELECT count(*) FROM attachments") == 0);
  CHECK(blobs.get(sha256_hex(shared)).error().code == errc::not_found);
}

}  // namespace sb::test
