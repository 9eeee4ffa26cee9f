#include "launch_instance.cuh"
ONEMOE_DEFINE_INSTANCE(fp16, __half, false)
