// One channel adapter under libFuzzer: compiled once per channel type with
// -DSB_FUZZ_TYPE="<type>" (fuzz/CMakeLists.txt), as fuzz_channel_<type>.
// The input is one request in the text format of fuzz_support.hpp. A POST goes to
// adapter::receive, a GET to adapter::handshake when the type has one, as the pipeline
// (daemon/pipeline.cpp) sends them; any other method is a 405 there and nothing here.
// The clock is fixed (fuzz_now) and, in this build only, any signature of the right shape is
// accepted (channels/crypto.cpp), so the parser behind the signature check is reached.
#include "fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

#ifndef SB_FUZZ_TYPE
#error "compile with -DSB_FUZZ_TYPE=\"<channel type>\""
#endif

namespace {

const sb::adapter& channel() {
  static const auto a = sb::fuzz::make_adapter(sb::fuzz::config_for(SB_FUZZ_TYPE));
  return *a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sb::fuzz::text_request req({reinterpret_cast<const char*>(data), size});
  if (req.view().method == "POST") {
    // The headers alone first, as the HTTP server asks when they arrive.
    if (const sb::error e = channel().check_head(req.view()); e.code != sb::errc::ok)
      sb::fuzz::check_error(e, SB_FUZZ_TYPE " check_head");
    const auto received = channel().receive(req.view());
    sb::fuzz::check(received, SB_FUZZ_TYPE " receive");
    // A kept delivery is replayed with parse_verified(): it must read what receive() read.
    if (received && !received->unreadable.empty())
      sb::fuzz::check_replay(*received, channel().parse_verified(req.view()), SB_FUZZ_TYPE);
  } else if (req.view().method == "GET" && channel().has_handshake())
    sb::fuzz::check(channel().handshake(req.view()), SB_FUZZ_TYPE " handshake");
  return 0;
}
