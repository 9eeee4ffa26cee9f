#include "reference/linalg.h"

#include <algorithm>

namespace onemoe::reference {
namespace {

constexpr int kLanes = 4;

// Eight dot products (rows a0, a1 against b0..b3) sharing every load; same lane order as dot().
void dot_2x4(const double* a0, const double* a1, const double* b, int64_t k, double* c0, double* c1) {
  double acc0[4][kLanes] = {}, acc1[4][kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes) {
    for (int j = 0; j < 4; ++j) {
      const double* bj = b + j * k + i;
      for (int l = 0; l < kLanes; ++l) {
        acc0[j][l] += a0[i + l] * bj[l];
        acc1[j][l] += a1[i + l] * bj[l];
      }
    }
  }
  for (int j = 0; j < 4; ++j) {
    double s0 = (acc0[j][0] + acc0[j][1]) + (acc0[j][2] + acc0[j][3]);
    double s1 = (acc1[j][0] + acc1[j][1]) + (acc1[j][2] + acc1[j][3]);
    for (int64_t t = i; t < k; ++t) {
      s0 += a0[t] * b[j * k + t];
      s1 += a1[t] * b[j * k + t];
    }
    c0[j] = s0;
    c1[j] = s1;
  }
}

}  // namespace

double dot(const double* a, const double* b, int64_t n) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  }
  double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void gemm_nt(const double* const* a_rows, int64_t m, const double* b, int64_t n, int64_t k, double* c) {
  // A panel of kPanel rows of b (512 KiB at k = 2048) stays in L2 while every row of a passes over it, so b is
  // read from memory once.
  constexpr int64_t kPanel = 32;
  for (int64_t j0 = 0; j0 < n; j0 += kPanel) {
    const int64_t j1 = std::min(n, j0 + kPanel);
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) {
      double* c0 = c + i * n;
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) dot_2x4(a_rows[i], a_rows[i + 1], b + j * k, k, c0 + j, c0 + n + j);
      for (; j < j1; ++j) {
        c0[j] = dot(a_rows[i], b + j * k, k);
        c0[n + j] = dot(a_rows[i + 1], b + j * k, k);
      }
    }
    for (; i < m; ++i) {  // an odd last row
      for (int64_t j = j0; j < j1; ++j) c[i * n + j] = dot(a_rows[i], b + j * k, k);
    }
  }
}

}  // namespace onemoe::reference
