// The RTP pacer over real loopback sockets: packets arrive whole, in order, never before they are due; flush and
// close drop what is queued; bad arguments are errors that change nothing.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "media/rtp-pacer.h"
#include "test-check.h"

using sovren::media::RtpPacer;

namespace {

struct UdpSocket {
  int fd = -1;
  int port = 0;
  UdpSocket() {
    fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~UdpSocket() { ::close(fd); }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Next datagram within timeout_ms, with the monotonic time it was read; empty when none came.
  std::vector<uint8_t> receive(int timeout_ms, double* at_ms = nullptr) const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return {};
    std::vector<uint8_t> buf(2048);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (at_ms != nullptr) *at_ms = RtpPacer::now_ms();
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }
};

template <typename F>
bool throws(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

void packets_arrive_in_order_not_before_due() {
  RtpPacer pacer;
  UdpSocket tx, rx;
  const uint32_t id = pacer.open(tx.fd, "127.0.0.1", rx.port);
  const double start = RtpPacer::now_ms() + 30;
  constexpr int kPackets = 20;
  for (int i = 0; i < kPackets; i++) {
    std::vector<uint8_t> bytes(172, static_cast<uint8_t>(i));
    pacer.enqueue(id, start + 5.0 * i, bytes.data(), bytes.size());
  }
  int in_order = 0, early = 0;
  for (int i = 0; i < kPackets; i++) {
    double at = 0;
    const std::vector<uint8_t> got = rx.receive(2000, &at);
    if (got.size() == 172 && got[0] == i && got[171] == i) in_order++;
    if (at < start + 5.0 * i - 0.05) early++;  // the pacer may send 20 µs early, never more
  }
  check(in_order == kPackets, "every packet arrives whole and in order (" + std::to_string(in_order) + ")");
  check(early == 0, "no packet leaves before its due time (" + std::to_string(early) + " early)");
  const auto stats = pacer.stats(id);
  check(stats.sent == kPackets && stats.send_errors == 0 && stats.queued == 0, "stats count the sends");
  check(stats.lateness_p99_ms >= 0 && stats.lateness_max_ms >= 0, "lateness is measured");
  pacer.close(id);
}

void past_due_goes_now_and_streams_are_independent() {
  RtpPacer pacer;
  UdpSocket tx1, tx2, rx1, rx2;
  const uint32_t a = pacer.open(tx1.fd, "127.0.0.1", rx1.port);
  const uint32_t b = pacer.open(tx2.fd, "127.0.0.1", rx2.port);
  const uint8_t one[] = {1}, two[] = {2};
  pacer.enqueue(a, RtpPacer::now_ms() - 100, one, 1);  // already late: sent at once
  pacer.enqueue(b, RtpPacer::now_ms() + 10, two, 1);
  check(rx1.receive(1000) == std::vector<uint8_t>{1}, "a late packet is sent at once");
  check(rx2.receive(1000) == std::vector<uint8_t>{2}, "the other stream's packet goes to its own target");
  check(pacer.stats(a).lateness_max_ms >= 99, "a late send counts its lateness");
}

void set_target_flush_and_close() {
  RtpPacer pacer;
  UdpSocket tx, rx1, rx2;
  const uint32_t id = pacer.open(tx.fd, "127.0.0.1", rx1.port);
  pacer.set_target(id, "127.0.0.1", rx2.port);  // latching moved the peer
  const uint8_t x[] = {7};
  pacer.enqueue(id, RtpPacer::now_ms(), x, 1);
  check(rx2.receive(1000) == std::vector<uint8_t>{7}, "packets follow set_target");
  check(rx1.receive(50).empty(), "nothing goes to the old target");
  for (int i = 0; i < 3; i++) pacer.enqueue(id, RtpPacer::now_ms() + 10'000, x, 1);
  check(pacer.flush(id) == 3, "flush drops the queued packets");
  pacer.enqueue(id, RtpPacer::now_ms() + 10'000, x, 1);
  pacer.close(id);
  check(pacer.streams() == 0, "close forgets the stream");
  check(throws([&] { pacer.stats(id); }), "a closed stream is unknown");
}

void bad_arguments_change_nothing() {
  RtpPacer pacer;
  UdpSocket tx;
  check(throws([&] { pacer.open(tx.fd, "not-an-address", 5000); }), "an address that is not IPv4/IPv6 is refused");
  check(throws([&] { pacer.open(tx.fd, "127.0.0.1", 0); }), "port 0 is refused");
  check(throws([&] { pacer.open(tx.fd, "127.0.0.1", 70000); }), "a port above 65535 is refused");
  check(throws([&] { pacer.open(-1, "127.0.0.1", 5000); }), "a negative descriptor is refused");
  check(pacer.streams() == 0, "refused opens leave no stream");
  const uint32_t id = pacer.open(tx.fd, "::1", 5000);
  const std::vector<uint8_t> big(RtpPacer::kMaxDatagram + 1, 0);
  const uint8_t one[] = {1};
  check(throws([&] { pacer.enqueue(id, 0, big.data(), big.size()); }), "an oversized datagram is refused");
  check(throws([&] { pacer.enqueue(id, 0, one, 0); }), "an empty datagram is refused");
  check(throws([&] { pacer.enqueue(id, std::nan(""), one, 1); }), "a NaN due time is refused");
  check(throws([&] { pacer.enqueue(id + 1, 0, one, 1); }), "an unknown stream is refused");
  check(throws([&] { pacer.set_target(id, "127.0.0.1", -5); }), "set_target checks the port");
  const double later = RtpPacer::now_ms() + 60'000;
  for (size_t i = 0; i < RtpPacer::kMaxQueued; i++) pacer.enqueue(id, later, one, 1);
  check(throws([&] { pacer.enqueue(id, later, one, 1); }), "a full queue refuses more");
  check(pacer.stats(id).queued == RtpPacer::kMaxQueued, "the refused packet was not queued");
}

}  // namespace

int main() {
  return run_suites({
      {"packets_arrive_in_order_not_before_due", packets_arrive_in_order_not_before_due},
      {"past_due_goes_now_and_streams_are_independent", past_due_goes_now_and_streams_are_independent},
      {"set_target_flush_and_close", set_target_flush_and_close},
      {"bad_arguments_change_nothing", bad_arguments_change_nothing},
  });
}
