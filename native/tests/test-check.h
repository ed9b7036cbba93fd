// Shared by the C++ test programs: counts checks, prints every failure, and ends with the plain
// "N passed, N failed" line that CI reads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>

inline int g_passed = 0;
inline int g_failed = 0;

inline void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

// sqrt(sum (got - want)^2 / sum want^2): infinite when a value is not finite or the sizes differ.
inline double relative_l2(std::span<const float> got, std::span<const float> want) {
  if (got.size() != want.size()) return INFINITY;
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    diff += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

// Index of the largest logit (greedy sampling).
inline int argmax(std::span<const float> logits) {
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Runs each named suite (an unexpected exception counts as one failure), prints the summary line and returns
// the process exit code.
inline int run_suites(std::initializer_list<std::pair<const char*, void (*)()>> suites) {
  for (const auto& [name, suite] : suites) {
    try {
      suite();
    } catch (const std::exception& e) {
      check(false, std::string(name) + ": unexpected exception: " + e.what());
    }
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
