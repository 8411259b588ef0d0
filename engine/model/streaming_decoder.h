// StreamingDecoder is declared in tokenizer.h, beside the Tokenizer it reads
// from (that pairing is the published contract); this header lets code
// include it by its own name.
#pragma once

#include "engine/model/tokenizer.h"  // IWYU pragma: export
