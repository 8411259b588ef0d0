// `surge model`: inspect (info), create (init) and quantize GGUF model files.
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/kernels/dtype.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/model.h"
#include "engine/model/model_init.h"
#include "engine/model/quantize_model.h"
#include "tools/surge/commands.h"

namespace surge::cli {
namespace {

using engine::kernels::DType;
using engine::model::GgufFile;

int Info(const std::string& path, bool show_tensors) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  if (!file.ok()) return Fail("model", file.status());
  const GgufFile& f = **file;
  std::printf("file      %s\nformat    GGUF v%u, %.1f MB, %zu tensors, alignment %u\n",
              path.c_str(), f.version(), f.file_bytes() / 1e6, f.tensors().size(), f.alignment());
  std::printf("\nmetadata:\n");
  for (const engine::model::GgufKv& kv : f.metadata()) {
    std::printf("  %-44s %s\n", kv.key.c_str(),
                engine::model::FormatGgufValue(kv.value, 6, 60).c_str());
  }
  // Whether the engine can run it, and its shape as the engine sees it.
  absl::StatusOr<std::unique_ptr<engine::model::Model>> model = engine::model::Model::Load(path);
  if (model.ok()) {
    const auto& c = (*model)->config();
    std::printf(
        "\nmodel     %s (%s): %d layers, n_embd %d, %d heads (%d KV, width %d), n_ff %d, "
        "vocab %d, context %d\n",
        (*model)->name().c_str(), std::string(c.arch.name).c_str(), c.n_layers, c.n_embd, c.n_heads,
        c.n_kv_heads, c.head_dim, c.n_ff, c.n_vocab, c.n_ctx_train);
  } else {
    std::printf("\nnot loadable by the engine: %s\n",
                std::string(model.status().message()).c_str());
  }
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const auto& t : f.tensors()) {
    auto& [count, bytes] = by_type[std::string(engine::kernels::Traits(t.type).name)];
    ++count;
    bytes += t.size_bytes;
  }
  std::printf("\ntensors by type:\n");
  for (const auto& [name, cb] : by_type) {
    std::printf("  %-6s %4d tensors %10.1f MB\n", name.c_str(), cb.first, cb.second / 1e6);
  }
  if (show_tensors) {
    std::printf("\ntensors:\n");
    for (const auto& t : f.tensors()) {
      std::printf("  %-36s %-6s [%s] %.2f MB\n", t.name.c_str(),
                  std::string(engine::kernels::Traits(t.type).name).c_str(),
                  absl::StrJoin(t.dims, ", ").c_str(), t.size_bytes / 1e6);
    }
  }
  return model.ok() ? 0 : 1;
}

std::optional<DType> ParseType(const std::string& name) {
  return engine::kernels::DTypeFromName(name);
}

}  // namespace

CommandFn RegisterModel(CLI::App& app) {
  app.require_subcommand(1);
  struct Flags {
    std::string path, out, type = "f32", arch = "llama", preset = "tiny";
    bool tensors = false, tied = false;
    uint64_t seed = 1;
    int heads = 0;
    int kv_heads = 0;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* info = app.add_subcommand("info", "print a GGUF file's metadata and tensors");
  info->add_option("file", f->path, "GGUF file")->required();
  info->add_flag("--tensors", f->tensors, "list every tensor");

  CLI::App* init = app.add_subcommand("init", "write a random-initialised model");
  init->add_option("--arch", f->arch, "llama|qwen2|qwen3")->capture_default_str();
  init->add_option("--preset", f->preset, "tiny|small")->capture_default_str();
  init->add_option("--type", f->type, "f32|f16|bf16|q8_0|q4_0")->capture_default_str();
  init->add_option("--seed", f->seed, "random seed")->capture_default_str();
  init->add_option("--heads", f->heads, "attention heads (0 = the preset's)");
  init->add_option("--kv-heads", f->kv_heads, "KV heads for GQA (0 = as many as heads)");
  init->add_flag("--tied", f->tied, "share the embedding table with the output layer");
  init->add_option("-o,--output", f->out, "output file")->required();

  CLI::App* quant = app.add_subcommand("quantize", "convert a model's weight matrices");
  quant->add_option("input", f->path, "input GGUF")->required();
  quant->add_option("output", f->out, "output GGUF")->required();
  quant->add_option("--type", f->type, "f32|f16|bf16|q8_0|q4_0")->required();

  return [f, info, init, quant]() -> int {
    if (info->parsed()) return Info(f->path, f->tensors);
    std::optional<DType> type = ParseType(f->type);
    if (!type) return Fail("model", absl::InvalidArgumentError("unknown --type " + f->type));
    if (init->parsed()) {
      engine::model::InitOptions o;
      o.arch = f->arch;
      o.preset = f->preset;
      o.type = *type;
      o.seed = f->seed;
      o.n_heads = f->heads;
      o.n_kv_heads = f->kv_heads;
      o.tied_embeddings = f->tied;
      absl::Status s = engine::model::WriteRandomModel(o, f->out);
      if (!s.ok()) return Fail("model", s);
      std::fprintf(stderr, "wrote %s\n", f->out.c_str());
      return 0;
    }
    absl::StatusOr<engine::model::QuantizeReport> r =
        engine::model::QuantizeModel(f->path, f->out, *type);
    if (!r.ok()) return Fail("model", r.status());
    std::printf("%d tensors converted, %d kept; %.1f MB -> %.1f MB\n", r->num_converted,
                r->num_kept, r->bytes_before / 1e6, r->bytes_after / 1e6);
    for (const std::string& note : r->notes) std::printf("  %s\n", note.c_str());
    return 0;
  };
}

}  // namespace surge::cli
