// The row-tiled float dot kernel (DotRowsFn, dot-kernels.h) written once for every SIMD instruction set. Include
// it only from the *-avx2.cpp / *-avx512.cpp kernel files (it needs their compile flags); each gets its own copy.
//
// `Simd` describes the vector registers:
//   using Vec; kLanes; kSlots (accumulators one reduce() sums: 8 or 16); kSingleTokenRows (rows per tile for one
//   token: the last tile of a batch whose size is not a multiple of 4);
//   zero(), fmadd(a, b, c) = a * b + c, load(const float*), load_part(const float*, count) (count < kLanes, zeros
//   above, reads nothing past them), reduce(const Vec acc[kSlots], float* sums), lane_of(slot) (where reduce
//   puts the sum of acc[slot]) and reduce_one(acc) (one accumulator's sum, lanes paired as in reduce).
// `Load` reads weights: vec(row, i) (kLanes elements from column i), part(row, i, count).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cpu/dot-kernels.h"

namespace sovren {
namespace {

// A register tile of R weight rows x T tokens with one accumulator each (slot r for one token, 4 * r + t for
// more). Per kLanes columns: R weight loads and T activation loads feed R * T FMAs. Every dot is summed column
// block by column block in order and reduced by the same lane pairing whatever the tile's shape, so it has the
// same bits in every tile.
template <class Simd, class Load, int R, int T>
void dot_rows_tile(int64_t n, const uint8_t* w, size_t w_stride, const float* const* x, float* y, size_t y_stride) {
  static_assert(T == 1 ? R <= Simd::kSlots : 4 * R <= Simd::kSlots, "tile does not fit the reduction slots");
  using Vec = typename Simd::Vec;
  constexpr auto slot = [](int r, int t) { return T == 1 ? r : 4 * r + t; };
  Vec acc[Simd::kSlots];
  for (int k = 0; k < Simd::kSlots; ++k) acc[k] = Simd::zero();
  const auto step = [&](int64_t i, auto load_w, auto load_x) {
    Vec xv[T];
    for (int t = 0; t < T; ++t) xv[t] = load_x(x[t] + i);
    for (int r = 0; r < R; ++r) {
      const Vec wv = load_w(w + static_cast<size_t>(r) * w_stride, i);
      for (int t = 0; t < T; ++t) acc[slot(r, t)] = Simd::fmadd(wv, xv[t], acc[slot(r, t)]);
    }
  };
  int64_t i = 0;
  for (; i + Simd::kLanes <= n; i += Simd::kLanes) {
    step(
        i, [](const uint8_t* row, int64_t at) { return Load::vec(row, at); },
        [](const float* p) { return Simd::load(p); });
  }
  if (i < n) {  // tail: zeros above n add nothing
    const int64_t count = n - i;
    step(
        i, [count](const uint8_t* row, int64_t at) { return Load::part(row, at, count); },
        [count](const float* p) { return Simd::load_part(p, count); });
  }
  alignas(64) float sums[Simd::kSlots];
  if constexpr (R * T == 1) {
    sums[Simd::lane_of(0)] = Simd::reduce_one(acc[0]);  // same lane pairing as reduce(), a fraction of its work
  } else {
    Simd::reduce(acc, sums);
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t)
      y[static_cast<size_t>(t) * y_stride + static_cast<size_t>(r)] = sums[Simd::lane_of(slot(r, t))];
  }
}

template <class Simd, class Load, int T>
void dot_rows_tokens(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const float* const* x, float* y,
                     size_t y_stride) {
  // One token: kSingleTokenRows independent FMA chains; more: as many rows as the slots allow for 4 tokens.
  constexpr int kRows = T == 1 ? Simd::kSingleTokenRows : Simd::kSlots / 4;
  const auto tiles = [&](auto rows_per_tile, int64_t& r) {
    constexpr int kTile = decltype(rows_per_tile)::value;
    for (; r + kTile <= n_rows; r += kTile) {
      dot_rows_tile<Simd, Load, kTile, T>(n, w + static_cast<size_t>(r) * w_stride, w_stride, x, y + r, y_stride);
    }
  };
  int64_t r = 0;
  tiles(std::integral_constant<int, kRows>{}, r);
  if constexpr (T == 1 && kRows > 4) tiles(std::integral_constant<int, 4>{}, r);
  tiles(std::integral_constant<int, 1>{}, r);
}

template <class Simd, class Load>
void dot_rows(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act, size_t act_stride,
              int n_tok, float* y, size_t y_stride) {
  const float* x[kMaxTokenTile];
  for (int t = 0; t < n_tok && t < kMaxTokenTile; ++t) x[t] = reinterpret_cast<const float*>(act + t * act_stride);
  switch (n_tok) {
    case 1:
      return dot_rows_tokens<Simd, Load, 1>(n, w, w_stride, n_rows, x, y, y_stride);
    case 2:
      return dot_rows_tokens<Simd, Load, 2>(n, w, w_stride, n_rows, x, y, y_stride);
    case 3:
      return dot_rows_tokens<Simd, Load, 3>(n, w, w_stride, n_rows, x, y, y_stride);
    default:
      return dot_rows_tokens<Simd, Load, 4>(n, w, w_stride, n_rows, x, y, y_stride);
  }
}

}  // namespace
}  // namespace sovren
