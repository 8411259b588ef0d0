// Vocab <-> GGUF metadata (`tokenizer.ggml.*`), with the defaults other GGUF
// tools apply when optional keys are missing.
//
// Keys: model ("llama" = SPM, "gpt2" = BPE), pre, tokens, scores, token_type,
// merges, bos/eos/unknown/padding/eot_token_id, add_bos_token, add_eos_token,
// add_space_prefix.
// Defaults when a key is absent: SPM: bos 1, eos 2, unk 0 (when in range),
// add_bos true, add_space_prefix true, scores 0; BPE: pre "default", no
// special ids, add_bos false, add_space_prefix false, scores empty; both:
// add_eos false, types kNormal.
//
// Thread safety: pure functions.
// Errors: ReadVocab() returns InvalidArgument for a missing or empty token
// list, arrays whose lengths differ from it, bad token types or metadata of
// the wrong type, and Unimplemented for tokenizer models other than llama and
// gpt2. A special-token id outside the vocabulary is dropped (set to -1) with
// a warning, as llama.cpp does, since published files carry such ids.
#pragma once

#include "base/status.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/gguf_writer.h"
#include "engine/model/vocab.h"

namespace surge::engine::model {

[[nodiscard]] absl::StatusOr<Vocab> ReadVocab(const GgufFile& file);

// Sets every key above (ids only when >= 0; scores, merges and pre only when
// non-empty).
void WriteVocab(const Vocab& vocab, GgufWriter& writer);

}  // namespace surge::engine::model
