#include "ep_launch_instance.cuh"
ONEMOE_DEFINE_EP_INSTANCE(fp16, __half, false)
