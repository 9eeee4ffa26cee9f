// How many SMs a persistent grid may assume: those of the calling thread's current CUDA context. That is the
// device's count, or a green context's share of it (cuGreenCtxCreate), which a grid sized from the device would
// exceed: the cooperative launch would then be refused.
#pragma once

namespace onemoe::host {

// The current context's SMs when the driver can tell (CUDA 12.4+ drivers), else device_sms.
int current_context_sms(int device_sms);

}  // namespace onemoe::host
