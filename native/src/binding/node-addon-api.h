// Includes node-addon-api's napi.h. The build puts its folder on the include path; the fallback finds it in the
// repository's node_modules in case that path comes out relative (and so wrong) from the CMake configure step.
#pragma once
#if __has_include(<napi.h>)
#include <napi.h>
#else
#include "../../../node_modules/node-addon-api/napi.h"
#endif
