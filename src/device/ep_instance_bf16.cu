#include "ep_launch_instance.cuh"
ONEMOE_DEFINE_EP_INSTANCE(bf16, __nv_bfloat16, false)
