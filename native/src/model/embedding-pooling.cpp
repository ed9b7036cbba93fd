// Pooling and L2 normalisation of hidden states (see embedding-pooling.h); sums in double so long inputs lose
// nothing to rounding.
#include "model/embedding-pooling.h"

#include <cmath>
#include <cstddef>

#include "core/error.h"

namespace sovren {

std::string_view pooling_name(Pooling pooling) {
  switch (pooling) {
    case Pooling::Mean:
      return "mean";
    case Pooling::Cls:
      return "cls";
    case Pooling::Last:
      return "last";
  }
  return "unknown";
}

std::optional<Pooling> pooling_from_name(std::string_view name) {
  for (const Pooling p : {Pooling::Mean, Pooling::Cls, Pooling::Last}) {
    if (pooling_name(p) == name) return p;
  }
  return std::nullopt;
}

std::vector<float> pool_embedding(const float* rows, int n, int dim, Pooling pooling, bool normalize) {
  if (n <= 0 || dim <= 0) throw EngineError("pooling needs at least one row of at least one element");
  const size_t d = static_cast<size_t>(dim);
  std::vector<double> sum(d, 0.0);
  const int first = pooling == Pooling::Last ? n - 1 : 0;
  const int last = pooling == Pooling::Mean ? n - 1 : first;
  for (int r = first; r <= last; ++r) {
    const float* row = rows + static_cast<size_t>(r) * d;
    for (size_t i = 0; i < d; ++i) sum[i] += row[i];
  }
  const double count = static_cast<double>(last - first + 1);
  double norm2 = 0.0;
  for (double& v : sum) {
    v /= count;
    norm2 += v * v;
  }
  const double scale = normalize && norm2 > 0.0 ? 1.0 / std::sqrt(norm2) : 1.0;
  std::vector<float> out(d);
  for (size_t i = 0; i < d; ++i) out[i] = static_cast<float>(sum[i] * scale);
  return out;
}

}  // namespace sovren
