#include "engine/model/model_init.h"

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/kernels/quantize.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/vocab_gguf.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace surge::engine::model {
namespace {

using kernels::DType;
using ::testing::HasSubstr;

std::string Build(const InitOptions& o) {
  GgufWriter w;
  absl::Status s = BuildRandomModel(o, w);
  EXPECT_TRUE(s.ok()) << s;
  return w.WriteToString();
}

std::vector<float> Dequantize(const GgufFile& f, const GgufTensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements));
  kernels::DequantizeRow(t.type, f.TensorData(t), t.num_elements, out.data());
  return out;
}

TEST(ModelInitTest, TinyLlamaHasLlamaCppMetadataAndTensors) {
  InitOptions o;
  o.type = DType::kQ8_0;
  o.n_kv_heads = 2;
  std::string bytes = Build(o);
  std::unique_ptr<GgufFile> f = *GgufFile::FromBuffer(bytes);
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(*f->GetString("general.name"), "surge-llama-tiny");
  EXPECT_EQ(*f->GetUint32("general.file_type"), 7u);
  EXPECT_EQ(*f->GetUint32("llama.context_length"), 512u);
  EXPECT_EQ(*f->GetUint32("llama.embedding_length"), 288u);
  EXPECT_EQ(*f->GetUint32("llama.block_count"), 6u);
  EXPECT_EQ(*f->GetUint32("llama.feed_forward_length"), 768u);
  EXPECT_EQ(*f->GetUint32("llama.attention.head_count"), 6u);
  EXPECT_EQ(*f->GetUint32("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*f->GetFloat32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(*f->GetFloat32("llama.rope.freq_base"), 10000.0f);
  EXPECT_EQ(*f->GetUint32("llama.rope.dimension_count"), 48u);
  EXPECT_EQ(*f->GetUint32("llama.vocab_size"), 32000u);
  absl::StatusOr<Vocab> vocab = ReadVocab(*f);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->kind, TokenizerKind::kSpm);
  EXPECT_EQ(vocab->tokens.size(), 32000u);

  // token_embd, output_norm, output + 9 per layer.
  EXPECT_EQ(f->tensors().size(), 3u + 6 * 9);
  auto dims = [&](const std::string& name) {
    const GgufTensorInfo* t = f->FindTensor(name);
    EXPECT_NE(t, nullptr) << name;
    return t ? t->dims : std::vector<int64_t>{};
  };
  EXPECT_EQ(dims("token_embd.weight"), (std::vector<int64_t>{288, 32000}));
  EXPECT_EQ(dims("output.weight"), (std::vector<int64_t>{288, 32000}));
  EXPECT_EQ(dims("output_norm.weight"), (std::vector<int64_t>{288}));
  EXPECT_EQ(dims("blk.5.attn_q.weight"), (std::vector<int64_t>{288, 288}));
  EXPECT_EQ(dims("blk.5.attn_k.weight"), (std::vector<int64_t>{288, 96}));
  EXPECT_EQ(dims("blk.5.attn_v.weight"), (std::vector<int64_t>{288, 96}));
  EXPECT_EQ(dims("blk.5.attn_output.weight"), (std::vector<int64_t>{288, 288}));
  EXPECT_EQ(dims("blk.0.ffn_gate.weight"), (std::vector<int64_t>{288, 768}));
  EXPECT_EQ(dims("blk.0.ffn_up.weight"), (std::vector<int64_t>{288, 768}));
  EXPECT_EQ(dims("blk.0.ffn_down.weight"), (std::vector<int64_t>{768, 288}));
  for (const GgufTensorInfo& t : f->tensors()) {
    EXPECT_EQ(t.type, t.dims.size() == 1 ? DType::kF32 : DType::kQ8_0) << t.name;
  }
  std::vector<float> norm = Dequantize(*f, *f->FindTensor("blk.2.ffn_norm.weight"));
  EXPECT_EQ(norm, std::vector<float>(288, 1.0f));
}

TEST(ModelInitTest, QwenVariantsAddTheirTensors) {
  InitOptions o;
  o.arch = "qwen2";
  o.type = DType::kQ4_0;
  o.tied_embeddings = true;
  std::string bytes = Build(o);
  std::unique_ptr<GgufFile> f = *GgufFile::FromBuffer(bytes);
  EXPECT_EQ(*f->GetFloat32("qwen2.rope.freq_base"), 1000000.0f);
  EXPECT_EQ(*f->GetFloat32("qwen2.attention.layer_norm_rms_epsilon"), 1e-6f);
  EXPECT_EQ(*f->GetUint32("general.file_type"), 2u);
  EXPECT_EQ(f->FindTensor("output.weight"), nullptr);
  EXPECT_EQ(f->FindTensor("blk.0.attn_q.bias")->dims, (std::vector<int64_t>{288}));
  EXPECT_EQ(f->FindTensor("blk.0.attn_v.bias")->type, DType::kF32);
  EXPECT_EQ(ReadVocab(*f)->kind, TokenizerKind::kBpe);

  o.arch = "qwen3";
  o.type = DType::kBF16;
  bytes = Build(o);
  f = *GgufFile::FromBuffer(bytes);
  EXPECT_EQ(*f->GetUint32("qwen3.attention.key_length"), 48u);
  EXPECT_EQ(*f->GetUint32("qwen3.attention.value_length"), 48u);
  EXPECT_EQ(f->FindTensor("blk.3.attn_k_norm.weight")->dims, (std::vector<int64_t>{48}));
  EXPECT_EQ(f->FindTensor("blk.3.attn_q.bias"), nullptr);
  EXPECT_EQ(f->FindTensor("token_embd.weight")->type, DType::kBF16);
}

TEST(ModelInitTest, SameOptionsGiveTheSameBytesAndSeedsDiffer) {
  InitOptions o;
  o.type = DType::kQ4_0;
  o.tied_embeddings = true;
  const std::string a = Build(o), b = Build(o);
  EXPECT_TRUE(a == b);
  o.seed = 2;
  const std::string c = Build(o);
  EXPECT_EQ(a.size(), c.size());
  EXPECT_FALSE(a == c);
}

TEST(ModelInitTest, WeightsHaveTheRequestedSpread) {
  InitOptions o;
  o.type = DType::kF32;
  o.tied_embeddings = true;
  std::string bytes = Build(o);
  std::unique_ptr<GgufFile> f = *GgufFile::FromBuffer(bytes);
  auto stats = [&](const std::string& name) {
    std::vector<float> x = Dequantize(*f, *f->FindTensor(name));
    double sum = 0, sq = 0;
    for (float v : x) sum += v, sq += static_cast<double>(v) * v;
    double mean = sum / x.size();
    return std::pair(mean, std::sqrt(sq / x.size() - mean * mean));
  };
  auto [mean, sd] = stats("blk.0.attn_q.weight");
  EXPECT_NEAR(mean, 0.0, 1e-3);
  EXPECT_NEAR(sd, 0.02, 5e-4);
  auto [dmean, dsd] = stats("blk.1.ffn_down.weight");
  EXPECT_NEAR(dmean, 0.0, 1e-3);
  EXPECT_NEAR(dsd, 0.02 / std::sqrt(12.0), 5e-4);
  // Different tensors draw different values.
  EXPECT_NE(Dequantize(*f, *f->FindTensor("blk.0.ffn_gate.weight")),
            Dequantize(*f, *f->FindTensor("blk.0.ffn_up.weight")));
  // The generator is pinned: these values must not change between builds or
  // releases (a change silently changes every benchmark model).
  std::vector<float> q = Dequantize(*f, *f->FindTensor("blk.0.attn_q.weight"));
  auto bits = [](float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
  };
  EXPECT_EQ(absl::StrCat(absl::Hex(bits(q[0])), " ", absl::Hex(bits(q[1])), " ",
                         absl::Hex(bits(q[287])), " ", absl::Hex(bits(q.back()))),
            "3c8630a6 bc878187 3b962d80 bca1bec9");
}

TEST(ModelInitTest, RejectsBadOptions) {
  GgufWriter w;
  InitOptions o;
  o.preset = "huge";
  EXPECT_THAT(BuildRandomModel(o, w).message(), HasSubstr("unknown preset 'huge'"));
  o = InitOptions();
  o.arch = "gpt2";
  EXPECT_THAT(BuildRandomModel(o, w).message(), HasSubstr("unknown architecture"));
  o = InitOptions();
  o.n_kv_heads = 4;
  EXPECT_THAT(BuildRandomModel(o, w).message(), HasSubstr("must divide"));
  o.n_kv_heads = -1;
  EXPECT_FALSE(BuildRandomModel(o, w).ok());
  EXPECT_EQ(w.num_tensors(), 0u);
}

}  // namespace
}  // namespace surge::engine::model
