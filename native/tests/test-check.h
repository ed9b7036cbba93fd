// Shared by the C++ test programs: counts checks, prints every failure, and ends with the plain
// "N passed, N failed" line that CI reads.
#pragma once
#include <cstdio>
#include <exception>
#include <initializer_list>
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
