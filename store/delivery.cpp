#include "store/delivery.hpp"

namespace sb {
namespace {

int rank(std::string_view status) noexcept {
  if (status == "queued") return 0;
  if (status == "sent") return 1;
  if (status == "delivered") return 2;
  if (status == "read") return 3;
  return -1;
}

}  // namespace

bool status_moves_forward(std::string_view from, std::string_view to) noexcept {
  if (to == "failed") return from == "queued" || from == "sent";
  if (from == "failed") return false;
  const int a = rank(from);
  const int b = rank(to);
  return a >= 0 && b > a;
}

}  // namespace sb
