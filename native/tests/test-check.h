// Shared by the C++ test programs: counts checks, prints every failure, and ends with the plain
// "N passed, N failed" line that CI reads.
#pragma once
#include <cstdio>
#include <string>

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
