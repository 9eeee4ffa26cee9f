#include "launch_instance.cuh"
ONEMOE_DEFINE_INSTANCE(fp32_ffma, float, true)
