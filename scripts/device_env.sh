# Sourced on the GPU machine: library paths for binaries built elsewhere, and the multi-GPU safety settings.
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcupti.so.13; do
  if ! ldconfig -p 2>/dev/null | grep -q "$lib"; then
    dir=$(find /usr/local/cuda* /opt/torch/.venv -name "$lib" -printf '%h\n' 2>/dev/null | head -n 1)
    [ -n "$dir" ] && export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
done
# One NCCL for build and run: torch's 2.28.9 (the device API has no ABI compatibility across releases).
nccl_dir=$(find /opt/torch/.venv -path '*nvidia/nccl/lib' -type d 2>/dev/null | head -n 1)
[ -n "$nccl_dir" ] && export LD_LIBRARY_PATH="$nccl_dir:$LD_LIBRARY_PATH"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
