// Round trips through GgufWriter and GgufFile: every metadata type, every
// tensor type, bitwise; typed getters; file I/O through the mapping.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace surge::engine::model {
namespace {

using kernels::DType;
using ::testing::HasSubstr;

std::unique_ptr<GgufFile> Parse(const std::string& bytes) {
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(bytes);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *std::move(f) : nullptr;
}

std::string Bytes(size_t n, uint8_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 37);
  return s;
}

TEST(GgufTest, EmptyFileRoundTrips) {
  GgufWriter w;
  std::string bytes = w.WriteToString();
  std::unique_ptr<GgufFile> f = Parse(bytes);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_TRUE(f->metadata().empty());
  EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufTest, EveryScalarTypeRoundTripsBitwise) {
  GgufWriter w;
  w.SetValue("u8", GgufValue::Scalar(GgufType::kUint8, uint8_t{200}));
  w.SetValue("i8", GgufValue::Scalar(GgufType::kInt8, int8_t{-100}));
  w.SetValue("u16", GgufValue::Scalar(GgufType::kUint16, uint16_t{60000}));
  w.SetValue("i16", GgufValue::Scalar(GgufType::kInt16, int16_t{-30000}));
  w.SetUint32("u32", 4000000000u);
  w.SetInt32("i32", -2000000000);
  w.SetFloat32("f32", 0.1f);
  w.SetBool("bool", true);
  w.SetString("str", std::string("h\xc3\xa9llo\0x", 8));
  w.SetUint64("u64", 0xfedcba9876543210ull);
  w.SetValue("i64", GgufValue::Scalar(GgufType::kInt64, int64_t{-5}));
  w.SetValue("f64", GgufValue::Scalar(GgufType::kFloat64, 1e300));
  std::unique_ptr<GgufFile> f = Parse(w.WriteToString());
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->metadata().size(), 12u);
  EXPECT_EQ(f->metadata()[0].key, "u8");
  EXPECT_EQ(f->metadata()[11].key, "f64");
  for (size_t i = 0; i < w.metadata().size(); ++i) {
    EXPECT_EQ(f->metadata()[i].value.type, w.metadata()[i].value.type);
    EXPECT_EQ(f->metadata()[i].value.bits, w.metadata()[i].value.bits);
  }
  EXPECT_EQ(*f->GetUint32("u8"), 200u);
  EXPECT_EQ(*f->GetInt64("i8"), -100);
  EXPECT_EQ(*f->GetUint32("u16"), 60000u);
  EXPECT_EQ(*f->GetInt64("i16"), -30000);
  EXPECT_EQ(*f->GetUint32("u32"), 4000000000u);
  EXPECT_EQ(*f->GetInt64("i32"), -2000000000);
  EXPECT_EQ(*f->GetFloat32("f32"), 0.1f);
  EXPECT_TRUE(*f->GetBool("bool"));
  EXPECT_EQ(*f->GetString("str"), std::string("h\xc3\xa9llo\0x", 8));
  EXPECT_EQ(*f->Find("u64")->AsUint64(), 0xfedcba9876543210ull);
  EXPECT_EQ(*f->GetInt64("i64"), -5);
  EXPECT_EQ(*f->GetFloat32("f64"), static_cast<float>(1e300));  // inf, narrowed
}

TEST(GgufTest, TypedGettersRejectWrongTypesAndRanges) {
  GgufWriter w;
  w.SetInt32("neg", -1);
  w.SetUint64("big", 1ull << 40);
  w.SetUint64("huge", ~0ull);
  w.SetString("s", "x");
  w.SetUint32("u", 7);
  std::unique_ptr<GgufFile> f = Parse(w.WriteToString());
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(absl::IsNotFound(f->GetUint32("missing").status()));
  EXPECT_FALSE(f->GetUint32("neg").ok());
  EXPECT_FALSE(f->GetUint32("big").ok());
  EXPECT_EQ(*f->GetInt64("big"), 1ll << 40);
  EXPECT_FALSE(f->GetInt64("huge").ok());
  EXPECT_THAT(f->GetUint32("s").status().message(), HasSubstr("'s' is string"));
  EXPECT_FALSE(f->GetString("u").ok());
  EXPECT_FALSE(f->GetFloat32("u").ok());
  EXPECT_FALSE(f->GetBool("u").ok());
  EXPECT_FALSE(f->GetStringArray("u").ok());
  EXPECT_FALSE(f->GetFloat32Array("s").ok());
  EXPECT_FALSE(f->GetInt32Array("s").ok());
  EXPECT_TRUE(f->Has("u"));
  EXPECT_FALSE(f->Has("v"));
}

TEST(GgufTest, ArraysOfEveryTypeRoundTrip) {
  GgufWriter w;
  w.SetStringArray("strs", {"a", "", std::string(300, 'z')});
  w.SetFloat32Array("f32s", {1.5f, -2.0f, 1e-30f});
  w.SetInt32Array("i32s", {1, -2, 2147483647});
  w.SetValue("u8s", GgufValue::Array(GgufType::kUint8, std::vector<uint8_t>{1, 2, 255}));
  w.SetValue("i16s", GgufValue::Array(GgufType::kInt16, std::vector<int16_t>{-3, 4}));
  w.SetValue("u64s", GgufValue::Array(GgufType::kUint64, std::vector<uint64_t>{1ull << 40}));
  w.SetValue("f64s", GgufValue::Array(GgufType::kFloat64, std::vector<double>{0.25}));
  w.SetValue("bools", GgufValue::Array(GgufType::kBool, std::vector<uint8_t>{1, 0}));
  w.SetValue("empty", GgufValue::Array(GgufType::kInt32, std::vector<int32_t>{}));
  std::unique_ptr<GgufFile> f = Parse(w.WriteToString());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->GetStringArray("strs"), (std::vector<std::string>{"a", "", std::string(300, 'z')}));
  EXPECT_EQ(*f->GetFloat32Array("f32s"), (std::vector<float>{1.5f, -2.0f, 1e-30f}));
  EXPECT_EQ(*f->GetFloat32Array("f64s"), (std::vector<float>{0.25f}));
  EXPECT_EQ(*f->GetInt32Array("i32s"), (std::vector<int32_t>{1, -2, 2147483647}));
  EXPECT_EQ(*f->GetInt32Array("u8s"), (std::vector<int32_t>{1, 2, 255}));
  EXPECT_EQ(*f->GetInt32Array("i16s"), (std::vector<int32_t>{-3, 4}));
  EXPECT_FALSE(f->GetInt32Array("u64s").ok());  // 2^40 does not fit
  EXPECT_EQ(*f->GetArraySize("bools"), 2u);
  EXPECT_EQ(*f->GetArraySize("empty"), 0u);
  EXPECT_TRUE(f->GetInt32Array("empty")->empty());
  for (size_t i = 0; i < w.metadata().size(); ++i) {
    const GgufValue& a = w.metadata()[i].value;
    const GgufValue& b = f->metadata()[i].value;
    EXPECT_EQ(a.elem_type, b.elem_type);
    EXPECT_EQ(a.elem_bytes, b.elem_bytes);
    EXPECT_EQ(a.strings, b.strings);
  }
}

TEST(GgufTest, SettingAKeyTwiceReplacesInPlace) {
  GgufWriter w;
  w.SetUint32("a", 1);
  w.SetString("b", "x");
  w.SetString("a", "two");
  w.Remove("b");
  w.SetBool("c", false);
  std::unique_ptr<GgufFile> f = Parse(w.WriteToString());
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata()[0].key, "a");
  EXPECT_EQ(*f->GetString("a"), "two");
  EXPECT_EQ(f->metadata()[1].key, "c");
}

TEST(GgufTest, TensorsOfEveryTypeRoundTripBitwiseAndAligned) {
  struct Case {
    DType type;
    std::vector<int64_t> dims;
    size_t bytes;
  };
  const std::vector<Case> cases = {
      {DType::kF32, {3}, 12},
      {DType::kF16, {5, 2}, 20},
      {DType::kBF16, {2, 2, 2}, 16},
      {DType::kQ8_0, {64, 3}, 6 * 34},
      {DType::kQ4_0, {32, 1, 1, 2}, 2 * 18},
  };
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(w.AddTensor(absl::StrCat("t", i), cases[i].dims, cases[i].type,
                            Bytes(cases[i].bytes, static_cast<uint8_t>(i)))
                    .ok());
  }
  ASSERT_TRUE(w.AddTensorFn("filled", {4}, DType::kF32, [](std::span<uint8_t> out) {
                 for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(i);
                 return absl::OkStatus();
               }).ok());
  std::string bytes = w.WriteToString();
  std::unique_ptr<GgufFile> f = Parse(bytes);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->tensors().size(), cases.size() + 1);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const GgufTensorInfo* t = f->FindTensor(absl::StrCat("t", i));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dims, cases[i].dims);
    EXPECT_EQ(t->type, cases[i].type);
    EXPECT_EQ(t->size_bytes, cases[i].bytes);
    EXPECT_EQ(t->offset % 32, 0u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->TensorData(*t)), t->size_bytes),
              Bytes(cases[i].bytes, static_cast<uint8_t>(i)));
  }
  const GgufTensorInfo* filled = f->FindTensor("filled");
  ASSERT_NE(filled, nullptr);
  EXPECT_EQ(filled->num_elements, 4);
  EXPECT_EQ(f->TensorData(*filled)[15], 15);
  EXPECT_EQ(f->FindTensor("nope"), nullptr);
}

TEST(GgufTest, WriterRejectsBadTensors) {
  GgufWriter w;
  EXPECT_FALSE(w.AddTensor("a", {3}, DType::kF32, Bytes(8, 0)).ok());  // size mismatch
  EXPECT_FALSE(w.AddTensor("b", {}, DType::kF32, "").ok());
  EXPECT_FALSE(w.AddTensor("c", {1, 1, 1, 1, 1}, DType::kF32, Bytes(4, 0)).ok());
  EXPECT_FALSE(w.AddTensor("d", {0}, DType::kF32, "").ok());
  EXPECT_FALSE(w.AddTensor("e", {16}, DType::kQ8_0, Bytes(17, 0)).ok());  // half a block
  EXPECT_FALSE(w.AddTensor(std::string(64, 'n'), {1}, DType::kF32, Bytes(4, 0)).ok());
  EXPECT_FALSE(w.AddTensor("f", {1}, static_cast<DType>(99), Bytes(4, 0)).ok());
  ASSERT_TRUE(w.AddTensor("g", {1}, DType::kF32, Bytes(4, 0)).ok());
  EXPECT_FALSE(w.AddTensor("g", {1}, DType::kF32, Bytes(4, 0)).ok());
  EXPECT_EQ(w.num_tensors(), 1u);
}

TEST(GgufTest, CustomAlignmentIsHonoured) {
  GgufWriter w;
  w.SetUint32("general.alignment", 64);
  ASSERT_TRUE(w.AddTensor("a", {3}, DType::kF32, Bytes(12, 1)).ok());
  ASSERT_TRUE(w.AddTensor("b", {3}, DType::kF32, Bytes(12, 2)).ok());
  std::unique_ptr<GgufFile> f = Parse(w.WriteToString());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->FindTensor("b")->offset - f->FindTensor("a")->offset, 64u);
}

TEST(GgufTest, FormatsValuesForListings) {
  EXPECT_EQ(FormatGgufValue(GgufValue::Scalar(GgufType::kInt32, int32_t{-3})), "-3");
  EXPECT_EQ(FormatGgufValue(GgufValue::Scalar(GgufType::kBool, uint8_t{1})), "true");
  EXPECT_EQ(FormatGgufValue(GgufValue::Scalar(GgufType::kFloat32, 0.5f)), "0.5");
  EXPECT_EQ(FormatGgufValue(GgufValue::String("a\"b\n")), "\"a\\\"b\\x0a\"");
  EXPECT_EQ(FormatGgufValue(GgufValue::String(std::string(100, 'x')), 8, 4), "\"xxxx\"...");
  EXPECT_EQ(FormatGgufValue(GgufValue::Array(GgufType::kInt32, std::vector<int32_t>{1, 2})),
            "[1, 2]");
  EXPECT_EQ(FormatGgufValue(GgufValue::StringArray({"a", "b", "c", "d"}), 2),
            "[\"a\", \"b\", ...] (4 string)");
}

TEST(GgufTest, OpenMapsAFileAndWriteFileIsAtomic) {
  const std::string path = ::testing::TempDir() + "/gguf_test_" + std::to_string(::getpid());
  GgufWriter w;
  w.SetString("general.name", "mapped");
  ASSERT_TRUE(w.AddTensor("w", {8}, DType::kF32, Bytes(32, 3)).ok());
  ASSERT_TRUE(w.WriteFile(path).ok());
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->file_bytes(), std::filesystem::file_size(path));
  EXPECT_EQ(*(*f)->GetString("general.name"), "mapped");
  const GgufTensorInfo* t = (*f)->FindTensor("w");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>((*f)->TensorData(*t)) % 32, 0u);
  EXPECT_EQ(std::memcmp((*f)->TensorData(*t), Bytes(32, 3).data(), 32), 0);

  // A failing filler leaves neither the target nor a temp file behind.
  GgufWriter bad;
  ASSERT_TRUE(bad.AddTensorFn("x", {1}, DType::kF32,
                              [](std::span<uint8_t>) { return absl::InternalError("boom"); })
                  .ok());
  const std::string bad_path = path + ".bad";
  absl::Status s = bad.WriteFile(bad_path);
  EXPECT_THAT(s.message(), HasSubstr("boom"));
  EXPECT_FALSE(std::filesystem::exists(bad_path));
  for (const auto& e : std::filesystem::directory_iterator(::testing::TempDir())) {
    EXPECT_THAT(e.path().string(), ::testing::Not(HasSubstr(bad_path + ".tmp")));
  }
  EXPECT_TRUE(absl::IsNotFound(GgufFile::Open(path + ".missing").status()));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace surge::engine::model
