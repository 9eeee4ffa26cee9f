// Dense fp64 kernels of the reference: a dot product and an "NT" GEMM (both operands K-contiguous).
// Every output element is one dot() over k in the same fixed lane order, so results do not depend on blocking
// or on the number of threads.
#pragma once

#include <cstdint>

namespace onemoe::reference {

// Σ_i a[i]·b[i], accumulated in 4 interleaved lanes (i mod 4) that are added as (l0+l1)+(l2+l3), then the tail.
double dot(const double* a, const double* b, int64_t n);

// c[i*n + j] = dot(a_rows[i], b + j*k, k) for i < m, j < n.
// a_rows: m row pointers of length k (rows may live anywhere); b: [n,k] contiguous; c: [m,n] contiguous.
void gemm_nt(const double* const* a_rows, int64_t m, const double* b, int64_t n, int64_t k, double* c);

}  // namespace onemoe::reference
