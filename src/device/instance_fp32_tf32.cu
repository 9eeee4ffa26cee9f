#include "launch_instance.cuh"
ONEMOE_DEFINE_INSTANCE(fp32_tf32, float, false)
