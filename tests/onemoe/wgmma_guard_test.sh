#!/usr/bin/env bash
# The compile launcher cmake/wgmma_serialization_guard.sh: a compile whose output carries a ptxas advisory of
# serialized wgmma (C7510, C7518) fails and loses its object file; a clean compile and a failing compile keep their own result.
set -u
guard=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

touch "$dir/serialized.o"
"$guard" bash -c 'echo "ptxas info    : (C7510) Potential Performance Loss: wgmma.mma_async instructions are serialized"' \
  -o "$dir/serialized.o" >/dev/null 2>&1 && fail "a compile reporting C7510 passed"
[ -e "$dir/serialized.o" ] && fail "the object of a compile reporting C7510 was kept"

touch "$dir/divergent.o"
"$guard" bash -c 'echo "ptxas info    : (C7518) Potential Performance Loss: wgmma.mma_async instructions are serialized due to program dependence on compiler-inserted WG.DP in divergent path"' \
  -o "$dir/divergent.o" >/dev/null 2>&1 && fail "a compile reporting C7518 passed"
[ -e "$dir/divergent.o" ] && fail "the object of a compile reporting C7518 was kept"

touch "$dir/clean.o"
out=$("$guard" bash -c 'echo "ptxas info    : Used 255 registers"' -o "$dir/clean.o" 2>&1) || fail "a clean compile failed"
[ -e "$dir/clean.o" ] || fail "the object of a clean compile was removed"
[[ "$out" == *"Used 255 registers"* ]] || fail "the compiler's output was not passed through"

"$guard" bash -c 'exit 3' -o "$dir/broken.o" >/dev/null 2>&1
[ $? -eq 3 ] || fail "a failing compile's exit status was not kept"
echo "PASS"
