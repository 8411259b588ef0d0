#include "engine/model/quantize_model.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/kernels/quantize.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/gguf_writer.h"
#include "engine/model/model_init.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace surge::engine::model {
namespace {

using kernels::DType;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::vector<float> Dequantize(const GgufFile& f, const GgufTensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements));
  kernels::DequantizeRow(t.type, f.TensorData(t), t.num_elements, out.data());
  return out;
}

TEST(QuantizeModelTest, Q8_0TensorsDequantizeCloseToTheOriginals) {
  const std::string in = TempPath("quantize_in.gguf"), out = TempPath("quantize_out.gguf");
  InitOptions o;
  o.type = DType::kF32;
  o.n_kv_heads = 3;
  o.tied_embeddings = true;
  ASSERT_TRUE(WriteRandomModel(o, in).ok());
  absl::StatusOr<QuantizeReport> r = QuantizeModel(in, out, DType::kQ8_0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->num_converted, 1 + 6 * 7);
  EXPECT_EQ(r->num_kept, 1 + 6 * 2);
  EXPECT_TRUE(r->notes.empty());
  EXPECT_LT(r->bytes_after * 3, r->bytes_before);

  std::unique_ptr<GgufFile> a = *GgufFile::Open(in), b = *GgufFile::Open(out);
  ASSERT_EQ(a->metadata().size(), b->metadata().size());
  for (size_t i = 0; i < a->metadata().size(); ++i) {
    EXPECT_EQ(a->metadata()[i].key, b->metadata()[i].key);
  }
  EXPECT_EQ(*b->GetUint32("general.file_type"), 7u);
  EXPECT_EQ(*b->GetUint32("llama.attention.head_count_kv"), 3u);
  EXPECT_EQ(*b->GetStringArray("tokenizer.ggml.tokens"),
            *a->GetStringArray("tokenizer.ggml.tokens"));
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (size_t i = 0; i < a->tensors().size(); ++i) {
    const GgufTensorInfo& ta = a->tensors()[i];
    const GgufTensorInfo& tb = b->tensors()[i];
    EXPECT_EQ(ta.name, tb.name);
    EXPECT_EQ(ta.dims, tb.dims);
    if (ta.dims.size() == 1) {
      EXPECT_EQ(tb.type, DType::kF32);
      EXPECT_EQ(Dequantize(*a, ta), Dequantize(*b, tb));
      continue;
    }
    EXPECT_EQ(tb.type, DType::kQ8_0);
    std::vector<float> x = Dequantize(*a, ta), y = Dequantize(*b, tb);
    float max_err = 0;
    for (size_t j = 0; j < x.size(); ++j) max_err = std::max(max_err, std::fabs(x[j] - y[j]));
    EXPECT_LT(max_err, 4e-4f) << ta.name;  // |x| < 0.07: half a step of 0.07/127
  }
  // Requantizing q8_0 to q4_0 reads the q8_0 input.
  const std::string q4 = TempPath("quantize_q4.gguf");
  r = QuantizeModel(out, q4, DType::kQ4_0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->num_converted, 43);
  std::unique_ptr<GgufFile> c = *GgufFile::Open(q4);
  EXPECT_EQ(c->FindTensor("blk.0.ffn_up.weight")->type, DType::kQ4_0);
  EXPECT_EQ(*c->GetUint32("general.file_type"), 2u);
  for (const std::string& p : {in, out, q4}) std::remove(p.c_str());
}

TEST(QuantizeModelTest, KeepsMatricesWhoseRowsAreNotWholeBlocks) {
  const std::string in = TempPath("quantize_odd.gguf"), out = TempPath("quantize_odd_out.gguf");
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  std::vector<float> odd(40 * 2, 0.5f), even(64 * 2, 0.25f);
  ASSERT_TRUE(w.AddTensor("odd", {40, 2}, DType::kF32,
                          std::string_view(reinterpret_cast<const char*>(odd.data()), 320))
                  .ok());
  ASSERT_TRUE(w.AddTensor("even", {64, 2}, DType::kF32,
                          std::string_view(reinterpret_cast<const char*>(even.data()), 512))
                  .ok());
  ASSERT_TRUE(w.WriteFile(in).ok());
  absl::StatusOr<QuantizeReport> r = QuantizeModel(in, out, DType::kQ4_0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->num_converted, 1);
  EXPECT_EQ(r->num_kept, 1);
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_THAT(r->notes[0], HasSubstr("odd: rows of 40"));
  std::unique_ptr<GgufFile> f = *GgufFile::Open(out);
  EXPECT_EQ(f->FindTensor("odd")->type, DType::kF32);
  EXPECT_EQ(Dequantize(*f, *f->FindTensor("even")), std::vector<float>(128, 0.25f));
  std::remove(in.c_str());
  std::remove(out.c_str());
}

TEST(QuantizeModelTest, ReportsABadInputWithItsPath) {
  const std::string in = TempPath("quantize_missing.gguf");
  absl::StatusOr<QuantizeReport> r = QuantizeModel(in, TempPath("x.gguf"), DType::kQ8_0);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(in));
}

}  // namespace
}  // namespace surge::engine::model
