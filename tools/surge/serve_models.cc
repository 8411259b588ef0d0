#include "tools/surge/serve_models.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/model.h"
#include "server/openai/keep_alive.h"

namespace surge::cli {
namespace {

namespace fs = std::filesystem;

absl::Status CheckFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("model file '", path, "' does not exist"));
  }
  return absl::OkStatus();
}

// general.name, or the file stem (what Model::name() gives, without loading).
std::string NameInFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<engine::model::GgufFile>> file =
      engine::model::GgufFile::Open(path);
  if (file.ok()) {
    absl::StatusOr<std::string> name = (*file)->GetString("general.name");
    if (name.ok() && !name->empty()) return *name;
  }
  return fs::path(path).stem().string();
}

// A model name as one path component: anything but [A-Za-z0-9._-] becomes '_'.
std::string SafeFileName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

absl::StatusOr<int64_t> EstimateBytes(const std::string& path, const engine::EngineConfig& c) {
  absl::StatusOr<std::unique_ptr<engine::model::GgufFile>> file =
      engine::model::GgufFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<engine::model::ModelConfig> mc = engine::model::ReadModelConfig(**file);
  if (!mc.ok()) return mc.status();
  std::error_code ec;
  const int64_t file_bytes = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) return absl::NotFoundError(absl::StrCat("cannot stat '", path, "'"));
  SURGE_RETURN_IF_ERROR(engine::kv::CheckKvType(c.kv_type, mc->head_dim));
  return file_bytes + engine::KvCacheBytes(*mc, c);
}

absl::Status AddDirectory(const std::string& dir, std::optional<std::chrono::milliseconds> keep,
                          ResolvedModels& out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("--models-dir '", dir, "' is not a directory"));
  }
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".gguf") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& p : files) {
    const std::string name = p.stem().string();
    const bool known = std::any_of(out.specs.begin(), out.specs.end(),
                                   [&](const server::ModelSpec& s) { return s.name == name; });
    if (!known) out.specs.push_back({name, p.string(), keep});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ResolvedModels> ResolveModels(const ModelFlags& f) {
  ResolvedModels out;
  std::optional<std::chrono::milliseconds> keep;
  if (!f.keep_alive.empty()) {
    absl::StatusOr<std::chrono::milliseconds> k = server::openai::ParseKeepAliveText(f.keep_alive);
    if (!k.ok())
      return absl::InvalidArgumentError(absl::StrCat("--keep-alive: ", k.status().message()));
    keep = *k;
    out.default_keep_alive = *k;
  }
  int bare = 0;
  for (const std::string& m : f.models) {
    const size_t eq = m.find('=');
    const bool named =
        eq != std::string::npos && eq > 0 && m.substr(0, eq).find('/') == std::string::npos;
    const std::string path = named ? m.substr(eq + 1) : m;
    SURGE_RETURN_IF_ERROR(CheckFile(path));
    server::ModelSpec spec{named ? m.substr(0, eq) : "", path, keep};
    if (!named) {
      ++bare;
      spec.name = f.model_name.empty() ? NameInFile(path) : f.model_name;
      // As before multi-model hosting: a bare -m FILE stays loaded.
      if (!keep) spec.keep_alive = std::chrono::milliseconds(-1);
      out.preload.push_back(spec.name);
    }
    for (const server::ModelSpec& s : out.specs) {
      if (s.name == spec.name) {
        return absl::InvalidArgumentError(
            absl::StrCat("model name '", spec.name, "' is used twice"));
      }
    }
    out.specs.push_back(std::move(spec));
  }
  if (!f.model_name.empty() && bare != 1) {
    return absl::InvalidArgumentError("--model-name names the one model given as -m FILE");
  }
  if (!f.models_dir.empty()) SURGE_RETURN_IF_ERROR(AddDirectory(f.models_dir, keep, out));
  if (out.specs.empty()) {
    return absl::InvalidArgumentError(
        "no model: give -m FILE, --model NAME=FILE (repeatable) or --models-dir DIR");
  }
  for (const std::string& name : f.preload) {
    const bool known = std::any_of(out.specs.begin(), out.specs.end(),
                                   [&](const server::ModelSpec& s) { return s.name == name; });
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("--preload-model '", name, "' is not a model"));
    }
    if (std::find(out.preload.begin(), out.preload.end(), name) == out.preload.end()) {
      out.preload.push_back(name);
    }
  }
  return out;
}

server::ModelLoader MakeModelLoader(LoaderOptions options) {
  auto o = std::make_shared<const LoaderOptions>(std::move(options));
  server::ModelLoader loader;
  loader.estimate_bytes = [o](const server::ModelSpec& spec) {
    return EstimateBytes(spec.path, o->engine);
  };
  loader.load =
      [o](const server::ModelSpec& spec) -> absl::StatusOr<std::unique_ptr<server::LoadedModel>> {
    const std::string& chat_template = o->chat_template;
    engine::EngineConfig config = o->engine;
    if (!o->session_dir.empty()) {
      config.sessions.dir = (fs::path(o->session_dir) / SafeFileName(spec.name)).string();
    }
    auto loaded = std::make_unique<server::LoadedModel>();
    absl::StatusOr<std::unique_ptr<engine::model::Model>> model =
        engine::model::Model::Load(spec.path);
    if (!model.ok()) return model.status();
    loaded->model = *std::move(model);
    absl::StatusOr<engine::model::ChatTemplateKind> tmpl =
        server::ChooseChatTemplate(*loaded->model, chat_template);
    if (!tmpl.ok()) return tmpl.status();
    loaded->chat_template = *tmpl;
    absl::StatusOr<std::unique_ptr<engine::Engine>> eng =
        engine::Engine::Create(*loaded->model, config);
    if (!eng.ok()) return eng.status();
    loaded->engine = *std::move(eng);
    std::error_code ec;
    const int64_t kv_bytes =
        engine::KvCacheBytes(loaded->model->config(), loaded->engine->config());
    loaded->bytes = static_cast<int64_t>(fs::file_size(spec.path, ec)) + kv_bytes;
    SURGE_LOG_INFO("model '{}': KV cache {:.1f} MB ({} rows)", spec.name,
                   static_cast<double>(kv_bytes) / 1e6,
                   engine::kv::KvTypeName(loaded->engine->config().kv_type));
    loaded->engine->Start();
    if (!o->preload.empty()) {
      absl::StatusOr<server::PreloadResult> pre =
          server::PreloadPrompts(*loaded->engine, loaded->chat_template, spec.name, o->preload);
      if (!pre.ok()) return pre.status();
      if (pre->prompts > 0) {
        SURGE_LOG_INFO("model {}: {} preloaded prompts ({} tokens) computed and pinned", spec.name,
                       pre->prompts, pre->tokens);
      }
    }
    return loaded;
  };
  return loader;
}

}  // namespace surge::cli
