#include "media/rtp-pacer.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace sovren::media {

namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A packet this close to due leaves now: waking up costs about this much anyway.
constexpr int64_t kEarlyNs = 20'000;

}  // namespace

void LatenessBins::record(double ms) {
  const double value = std::fabs(ms);
  const size_t bin = std::min(bins_.size() - 1, static_cast<size_t>(value / kBinMs));
  bins_[bin]++;
  count_++;
  if (value > max_ms_) max_ms_ = value;
}

double LatenessBins::quantile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < bins_.size(); i++) {
    seen += bins_[i];
    if (seen >= target) return static_cast<double>(i + 1) * kBinMs;
  }
  return max_ms_;
}

RtpPacer::RtpPacer() {
  thread_ = std::thread([this] { run(); });
  // A real-time priority keeps other work on the box from delaying a send by a scheduler tick. It needs
  // CAP_SYS_NICE (or LimitRTPRIO in the systemd unit); without it the thread runs at normal priority, which on an
  // idle or lightly loaded box is still well under a millisecond.
  sched_param param{};
  param.sched_priority = kRealtimePriority;
  realtime_ = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &param) == 0;
  pthread_setname_np(thread_.native_handle(), "sovren-rtp-pace");
}

RtpPacer::~RtpPacer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

double RtpPacer::now_ms() { return static_cast<double>(monotonic_ns()) / 1e6; }

void RtpPacer::parse_target(const std::string& address, int port, sockaddr_storage* out, socklen_t* len) {
  if (port < 1 || port > 65535)
    throw std::invalid_argument("RTP target port " + std::to_string(port) + " is not 1..65535");
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return;
  }
  throw std::invalid_argument("RTP target '" + address + "' is not an IPv4 or IPv6 address");
}

uint32_t RtpPacer::open(int fd, const std::string& address, int port) {
  if (fd < 0) throw std::invalid_argument("RTP pacer: socket descriptor " + std::to_string(fd) + " is not open");
  Stream stream;
  stream.fd = fd;
  parse_target(address, port, &stream.target, &stream.target_len);
  std::lock_guard lock(mutex_);
  const uint32_t id = next_id_++;
  streams_.emplace(id, std::move(stream));
  return id;
}

RtpPacer::Stream& RtpPacer::stream_locked(uint32_t id) {
  const auto it = streams_.find(id);
  if (it == streams_.end()) throw std::invalid_argument("RTP pacer: no stream " + std::to_string(id));
  return it->second;
}

const RtpPacer::Stream& RtpPacer::stream_locked(uint32_t id) const {
  const auto it = streams_.find(id);
  if (it == streams_.end()) throw std::invalid_argument("RTP pacer: no stream " + std::to_string(id));
  return it->second;
}

void RtpPacer::set_target(uint32_t id, const std::string& address, int port) {
  sockaddr_storage target{};
  socklen_t len = 0;
  parse_target(address, port, &target, &len);
  std::lock_guard lock(mutex_);
  Stream& stream = stream_locked(id);
  stream.target = target;
  stream.target_len = len;
}

void RtpPacer::enqueue(uint32_t id, double due_ms, const uint8_t* data, size_t size) {
  if (size == 0 || size > kMaxDatagram) {
    throw std::invalid_argument("RTP pacer: a datagram of " + std::to_string(size) + " bytes (1.." +
                                std::to_string(kMaxDatagram) + ")");
  }
  if (!std::isfinite(due_ms)) throw std::invalid_argument("RTP pacer: due time is not a finite number");
  Packet packet{static_cast<int64_t>(due_ms * 1e6), std::vector<uint8_t>(data, data + size)};
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    Stream& stream = stream_locked(id);
    if (stream.queue.size() >= kMaxQueued) {
      throw std::invalid_argument("RTP pacer: stream " + std::to_string(id) + " already holds " +
                                  std::to_string(kMaxQueued) + " packets");
    }
    // Only a stream's first queued packet can be due before the thread's planned wake-up.
    wake = stream.queue.empty() && packet.due_ns - kEarlyNs < sleeping_until_ns_;
    stream.queue.push_back(std::move(packet));
    stream.counters.queued = stream.queue.size();
    if (wake) sleeping_until_ns_ = 0;  // one notification is enough until the thread has looked again
  }
  if (wake) wake_.notify_one();
}

size_t RtpPacer::flush(uint32_t id) {
  std::lock_guard lock(mutex_);
  Stream& stream = stream_locked(id);
  const size_t dropped = stream.queue.size();
  stream.queue.clear();
  stream.counters.queued = 0;
  return dropped;
}

void RtpPacer::close(uint32_t id) {
  std::lock_guard lock(mutex_);  // the thread sends under this lock: after this, the fd is never used again
  streams_.erase(id);
}

PacerStreamStats RtpPacer::stats(uint32_t id) const {
  std::lock_guard lock(mutex_);
  const Stream& stream = stream_locked(id);
  PacerStreamStats out = stream.counters;
  out.lateness_p99_ms = stream.lateness.quantile(0.99);
  out.lateness_max_ms = stream.lateness.max_ms();
  return out;
}

size_t RtpPacer::streams() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

void RtpPacer::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    int64_t next_due = INT64_MAX;
    for (const auto& [id, stream] : streams_) {
      if (!stream.queue.empty()) next_due = std::min(next_due, stream.queue.front().due_ns);
    }
    int64_t now = monotonic_ns();
    if (next_due == INT64_MAX) {
      sleeping_until_ns_ = INT64_MAX;
      wake_.wait(lock);
      continue;
    }
    if (next_due - kEarlyNs > now) {
      sleeping_until_ns_ = next_due - kEarlyNs;
      // steady_clock is CLOCK_MONOTONIC on Linux: the same base as the due times.
      wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(sleeping_until_ns_)));
      continue;  // woken by a new packet, or due: look again
    }
    sleeping_until_ns_ = 0;  // awake and sending: enqueue need not notify
    for (auto& [id, stream] : streams_) {
      while (!stream.queue.empty() && stream.queue.front().due_ns - kEarlyNs <= now) {
        const Packet& packet = stream.queue.front();
        const ssize_t n = ::sendto(stream.fd, packet.bytes.data(), packet.bytes.size(), MSG_DONTWAIT,
                                   reinterpret_cast<const sockaddr*>(&stream.target), stream.target_len);
        if (n < 0) {
          stream.counters.send_errors++;
          stream.counters.last_errno = errno;
        } else {
          stream.counters.sent++;
          now = monotonic_ns();
          stream.lateness.record(static_cast<double>(now - packet.due_ns) / 1e6);
        }
        stream.queue.pop_front();
      }
      stream.counters.queued = stream.queue.size();
    }
  }
}

}  // namespace sovren::media
