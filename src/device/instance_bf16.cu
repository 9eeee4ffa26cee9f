#include "launch_instance.cuh"
ONEMOE_DEFINE_INSTANCE(bf16, __nv_bfloat16, false)
