#include "ep_launch_instance.cuh"
ONEMOE_DEFINE_EP_INSTANCE(fp32_tf32, float, false)
