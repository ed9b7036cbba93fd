// Q4_K prompt GEMM on AVX-512: 16 tokens in the 16 int32 lanes of a zmm, weights broadcast from a packed copy.
//
// The per-row dot kernels (dot-k-quants-*.cpp) unpack a Q4_K block, then for each token of a 4-token tile run
// maddubs + madd + add per 64 products and one float conversion per (row, token, block). Here one instruction
// (AVX512-VNNI vpdpbusd) does 64 products for 16 tokens at once, the 4 weights of a row broadcast to every lane, so
// each activation vector serves every row of a register tile and all float work is per 16 tokens.
//
// Activations are the Q8_K rows the dot kernels use, packed per 16-token tile and 256-column block
// (kQ4KTileBlockBytes):
//   u8  q[64][16][4]    step k (columns 4k .. 4k+3 of the block), lane t: token t's 4 values + 128 (vpdpbusd takes
//                       its vector operand unsigned; the +128 is taken back per row, see corr below)
//   f32 d[16]           token t's block scale (0 for a lane past the last token)
//   i16 bsum[4][16][2]  pair i, lane t: sums of token t's values over the 32-column sub-blocks 2i and 2i+1
// Weight rows are unpacked per 256-column block into kQ4KRowBlockBytes:
//   i8  q[256]          the 4-bit values in column order
//   i32 scale[8]        6-bit sub-block scales
//   i16 min[8]          6-bit sub-block mins
//   f32 d, dmin
//   i32 corr            128 * sum_s scale[s] * (sum of q over sub-block s)
//   pad to 320 bytes
// so that for a row and token: dot = d * da * (sum_s scale[s] * sum_{k in s} q[k] * (a[k] + 128) - corr)
//                                    - dmin * da * sum_s min[s] * bsum32[s].
// Every product is an exact integer; each token's result is the same whatever other tokens share its tile.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sovren {

constexpr int kQ4KTileTokens = 16;
constexpr size_t kQ4KTileBlockBytes = 64 * 64 + 16 * 4 + 4 * 16 * 4;  // 4416
constexpr size_t kQ4KTileDOffset = 64 * 64;
constexpr size_t kQ4KTileBsumOffset = kQ4KTileDOffset + 16 * 4;
constexpr size_t kQ4KRowBlockBytes = 320;
constexpr size_t kQ4KRowScaleOffset = 256, kQ4KRowMinOffset = 288, kQ4KRowDOffset = 304, kQ4KRowDminOffset = 308,
                 kQ4KRowCorrOffset = 312;

// Packs n_tok (1..16) Q8_K activation rows of n columns (row t at act + t * act_stride) into one tile of n / 256
// blocks; lanes from n_tok on are zero activations.
using PackQ8KTileFn = void (*)(int64_t n, const uint8_t* act, size_t act_stride, int n_tok, uint8_t* tile);
// Unpacks one Q4_K row of n columns into n / 256 row blocks.
using PackQ4KRowFn = void (*)(int64_t n, const uint8_t* row, uint8_t* packed);
// For r < n_rows and t < n_tok: y[t * y_stride + r] = dot(packed row r, tile token t) over n_blocks blocks; packed
// row r starts at rows + r * row_stride. All pointers 64-byte aligned except y.
using GemmQ4KFn = void (*)(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int64_t n_rows,
                           const uint8_t* tile, int n_tok, float* y, size_t y_stride);

void pack_q8_k_tile_avx512(int64_t n, const uint8_t* act, size_t act_stride, int n_tok, uint8_t* tile);
void pack_q4_k_row_avx512(int64_t n, const uint8_t* row, uint8_t* packed);
// vpdpbusd / vpdpwssd emulated with maddubs + madd (AVX-512 BW), for CPUs without VNNI.
void gemm_q4_k_avx512(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int64_t n_rows, const uint8_t* tile,
                      int n_tok, float* y, size_t y_stride);
void gemm_q4_k_avx512vnni(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int64_t n_rows, const uint8_t* tile,
                          int n_tok, float* y, size_t y_stride);

}  // namespace sovren
