// Sends RTP packets at their due time from a thread of its own. The voice service builds each call's 20 ms packet
// a little ahead (on its event loop, where garbage collection and other calls' work delay timers by milliseconds)
// and hands it over with the instant it is due; this thread sleeps to that instant (CLOCK_MONOTONIC, absolute) and
// writes the datagram to the call's UDP socket, so what the carrier sees is paced to well under a millisecond.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sovren::media {

// |send − due| in 0.05 ms bins up to 50 ms: a call's p99 without keeping every sample of a long call.
class LatenessBins {
 public:
  void record(double ms);
  double quantile(double q) const;
  uint64_t count() const { return count_; }
  double max_ms() const { return max_ms_; }

 private:
  static constexpr double kBinMs = 0.05;
  std::array<uint32_t, 1001> bins_{};
  uint64_t count_ = 0;
  double max_ms_ = 0;
};

struct PacerStreamStats {
  uint64_t sent = 0;
  uint64_t send_errors = 0;  // sendto failed (the packet is dropped, as a lost datagram would be)
  uint64_t queued = 0;
  double lateness_p99_ms = 0;
  double lateness_max_ms = 0;
  int last_errno = 0;
};

// Thread-safe. Streams are identified by the id open() returns; a closed stream's queued packets are dropped and its
// socket is never touched again once close() returns, so the caller may close the socket right after.
class RtpPacer {
 public:
  RtpPacer();
  ~RtpPacer();
  RtpPacer(const RtpPacer&) = delete;
  RtpPacer& operator=(const RtpPacer&) = delete;

  // CLOCK_MONOTONIC in milliseconds: the time base of due times (libuv's hrtime, and so performance.now(), use it).
  static double now_ms();

  // fd: a bound UDP socket the caller keeps open until close(id). Throws std::invalid_argument for a bad address.
  uint32_t open(int fd, const std::string& address, int port);
  void set_target(uint32_t id, const std::string& address, int port);
  // Copies the datagram; it leaves at due_ms (now_ms() time base), right away when that has passed. Packets of one
  // stream leave in the order given. Throws std::invalid_argument for an unknown stream or an empty/oversized packet.
  void enqueue(uint32_t id, double due_ms, const uint8_t* data, size_t size);
  // Drops the stream's queued packets (returns how many).
  size_t flush(uint32_t id);
  void close(uint32_t id);
  PacerStreamStats stats(uint32_t id) const;
  size_t streams() const;
  // Whether the thread got SCHED_FIFO at kRealtimePriority (root, CAP_SYS_NICE, or RLIMIT_RTPRIO >= it).
  bool realtime() const { return realtime_; }
  static constexpr int kRealtimePriority = 10;

  static constexpr size_t kMaxDatagram = 1500;
  static constexpr size_t kMaxQueued = 64;  // 1.28 s of 20 ms packets: more means the producer is broken

 private:
  struct Packet {
    int64_t due_ns;
    std::vector<uint8_t> bytes;
  };
  struct Stream {
    int fd = -1;
    sockaddr_storage target{};
    socklen_t target_len = 0;
    std::deque<Packet> queue;
    PacerStreamStats counters;
    LatenessBins lateness;
  };

  void run();
  static void parse_target(const std::string& address, int port, sockaddr_storage* out, socklen_t* len);
  Stream& stream_locked(uint32_t id);
  const Stream& stream_locked(uint32_t id) const;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<uint32_t, Stream> streams_;
  uint32_t next_id_ = 1;
  bool stopping_ = false;
  bool realtime_ = false;
  // When the thread will next look at the queues by itself (INT64_MAX: not until woken): a new packet due earlier
  // than this wakes it; any other enqueue costs no futex wake-up.
  int64_t sleeping_until_ns_ = INT64_MAX;
  std::thread thread_;
};

}  // namespace sovren::media
