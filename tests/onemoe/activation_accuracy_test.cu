// The branch-free erf of the 16-bit GELU epilogue (erf_rational) against the C library's erf in double, over
// a dense grid and the special values: its documented bound is 1.5e-7; fp32 evaluation may add a few ulp.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "device/numeric.cuh"
#include "gpu_available.h"

namespace onemoe {
namespace {

__global__ void erf_rational_kernel(const float* x, float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = device::erf_rational(x[i]);
}

TEST(ActivationAccuracy, ErfRationalWithinItsBound) {
  REQUIRE_GPU();
  std::vector<float> x;
  for (int i = -600000; i <= 600000; ++i) x.push_back(float(i) * 1e-5f);  // [-6, 6] in steps of 1e-5
  x.insert(x.end(), {INFINITY, -INFINITY, NAN, 0.f, -0.f, 1e-30f, -1e-30f, 30.f, -30.f});
  const int n = int(x.size());
  float *d_x = nullptr, *d_y = nullptr;
  ASSERT_EQ(cudaMalloc(&d_x, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_y, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d_x, x.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemset(d_y, 0xff, n * sizeof(float)), cudaSuccess);  // poison: NaN
  erf_rational_kernel<<<(n + 255) / 256, 256>>>(d_x, d_y, n);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<float> y(n);
  ASSERT_EQ(cudaMemcpy(y.data(), d_y, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  cudaFree(d_x);
  cudaFree(d_y);

  double worst = 0;
  float worst_x = 0;
  for (int i = 0; i < n; ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(y[i])) << "NaN must stay NaN";
      continue;
    }
    ASSERT_FALSE(std::isnan(y[i])) << "x = " << x[i];
    const double err = std::fabs(double(y[i]) - std::erf(double(x[i])));
    if (err > worst) worst = err, worst_x = x[i];
  }
  EXPECT_LE(worst, 3e-7) << "worst at x = " << worst_x;
  EXPECT_EQ(y[n - 9], 1.f);   // erf(+inf)
  EXPECT_EQ(y[n - 8], -1.f);  // erf(-inf)
}

}  // namespace
}  // namespace onemoe
