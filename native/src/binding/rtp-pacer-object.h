// The RtpPacer class of the addon (media/rtp-pacer.h): the voice service's packet sender thread.
#pragma once
#include "binding/node-addon-api.h"

namespace sovren::binding {

void register_rtp_pacer(Napi::Env env, Napi::Object exports);

}  // namespace sovren::binding
