#include "broker/skill_parking.hpp"

#include <utility>

namespace sb {

skill_parking::admission skill_parking::admit(const std::string& skill, std::int64_t seq,
                                              clock::time_point now) {
  auto it = health_.find(skill);
  if (it == health_.end()) return {};
  skill_health& h = it->second;
  if (now < h.parked_until) return {false, h.parked_until};
  if (h.probe != 0) return {false, clock::time_point::max()};
  h.probe = seq;
  return {};
}

std::optional<std::uint64_t> skill_parking::return_received(const std::string& skill,
                                                            clock::time_point now) {
  auto& h = health_[skill];
  ++h.unlogged;
  if (h.last_log != clock::time_point{} && now - h.last_log < log_every_) return std::nullopt;
  h.last_log = now;
  return std::exchange(h.unlogged, 0);
}

bool skill_parking::confirmed(const std::string& skill) {
  auto it = health_.find(skill);
  if (it == health_.end() || it->second.failures == 0) return false;
  health_.erase(it);
  return true;
}

skill_parking::clock::time_point skill_parking::returned(const std::string& skill, std::int64_t seq,
                                                         clock::time_point now, backoff& delays) {
  auto& h = health_[skill];
  if (h.probe == seq) h.probe = 0;
  if (now >= h.parked_until) h.parked_until = now + delays(h.failures++);
  return h.parked_until;
}

void skill_parking::nacked(const std::string& skill, std::int64_t seq) {
  if (auto it = health_.find(skill); it != health_.end() && it->second.probe == seq)
    it->second.probe = 0;
}

void skill_parking::forget_probes() noexcept {
  for (auto& [skill, h] : health_) h.probe = 0;
}

const skill_parking::skill_health* skill_parking::find(std::string_view skill) const {
  auto it = health_.find(std::string(skill));
  return it == health_.end() ? nullptr : &it->second;
}

std::int64_t skill_parking::probe(std::string_view skill) const {
  const auto* h = find(skill);
  return h ? h->probe : 0;
}

bool skill_parking::watched(std::string_view skill) const { return find(skill) != nullptr; }

}  // namespace sb
