// Hostile GGUF files: a valid file from the writer, corrupted one way at a
// time. Each must give a non-OK status with a message, never a crash, and
// never an allocation out of proportion to the file's size.
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "base/check.h"
#include "engine/model/gguf_reader.h"
#include "engine/model/gguf_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Counts bytes requested from operator new while g_counting is set.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_allocated{0};
}  // namespace

// Replacement new/delete pair through malloc/free (g++ cannot see they match).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocated += n;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace surge::engine::model {
namespace {

using kernels::DType;
using ::testing::HasSubstr;

// The valid file every case starts from. The last tensor's size is a
// multiple of 32, so the file ends exactly at its last data byte.
std::string ValidFile() {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetUint32("key_a", 7);
  w.SetUint32("key_b", 8);
  w.SetFloat32("f", 0.5f);
  w.SetBool("flag", true);
  w.SetStringArray("strs", {"x", "yy", "zzz"});
  w.SetInt32Array("ints", {1, 2, 3});
  std::string f32(8 * 2 * 4, '\x01'), q8(2 * 34, '\x02'), f16(16 * 2, '\x03');
  SURGE_CHECK(w.AddTensor("tensor_a", {8, 2}, DType::kF32, f32).ok());
  SURGE_CHECK(w.AddTensor("tensor_q", {32, 2}, DType::kQ8_0, q8).ok());
  SURGE_CHECK(w.AddTensor("tensor_b", {16}, DType::kF16, f16).ok());
  return w.WriteToString();
}

// Offset just past the length-prefixed string `s` in `bytes`.
size_t After(const std::string& bytes, const std::string& s) {
  std::string needle(8, '\0');
  uint64_t n = s.size();
  std::memcpy(needle.data(), &n, 8);
  needle += s;
  size_t at = bytes.find(needle);
  SURGE_CHECK(at != std::string::npos);
  return at + needle.size();
}

template <typename T>
void Poke(std::string& bytes, size_t offset, T v) {
  SURGE_CHECK(offset + sizeof(T) <= bytes.size());
  std::memcpy(bytes.data() + offset, &v, sizeof(T));
}

// Parses `bytes`, expecting failure; returns the message.
std::string ExpectRejected(const std::string& bytes, const std::string& label) {
  g_allocated = 0;
  g_counting = true;
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(bytes);
  g_counting = false;
  EXPECT_FALSE(f.ok()) << label;
  EXPECT_LE(g_allocated.load(), 16 * bytes.size() + 4096) << label;
  if (f.ok()) return "";
  EXPECT_THAT(f.status().message(), HasSubstr("gguf: ")) << label;
  return std::string(f.status().message());
}

TEST(GgufCorruptTest, TheBaseFileIsValid) {
  std::string bytes = ValidFile();
  absl::StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::FromBuffer(bytes);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->tensors().back().offset + (*f)->tensors().back().size_bytes, bytes.size());
}

TEST(GgufCorruptTest, EveryTruncationIsRejected) {
  const std::string bytes = ValidFile();
  uint64_t data_offset = (*GgufFile::FromBuffer(bytes))->data_offset();
  for (size_t n = 0; n < bytes.size(); n += n < data_offset ? 1 : 7) {
    ExpectRejected(bytes.substr(0, n), "truncated to " + std::to_string(n));
  }
  EXPECT_THAT(ExpectRejected(bytes.substr(0, bytes.size() - 1), "last byte"),
              HasSubstr("runs past end of file"));
}

struct Corruption {
  const char* name;
  std::function<void(std::string&)> apply;
  const char* message;  // expected in the status message
};

class GgufCorruptionTest : public ::testing::TestWithParam<Corruption> {};

TEST_P(GgufCorruptionTest, IsRejectedWithAMessage) {
  std::string bytes = ValidFile();
  GetParam().apply(bytes);
  EXPECT_THAT(ExpectRejected(bytes, GetParam().name), HasSubstr(GetParam().message));
}

// Field offsets inside a tensor info that starts right after its name.
constexpr size_t kNDims = 0, kDim0 = 4;
size_t TypeField(size_t n_dims) { return 4 + 8 * n_dims; }
size_t OffsetField(size_t n_dims) { return 8 + 8 * n_dims; }

const Corruption kCorruptions[] = {
    {"bad magic", [](std::string& b) { b[0] = 'X'; }, "bad magic"},
    {"ggml magic", [](std::string& b) { b.replace(0, 4, "ggjt"); }, "not a GGUF file"},
    {"version 1", [](std::string& b) { Poke<uint32_t>(b, 4, 1); }, "version 1"},
    {"version 4", [](std::string& b) { Poke<uint32_t>(b, 4, 4); }, "unsupported GGUF version 4"},
    {"big endian", [](std::string& b) { Poke<uint32_t>(b, 4, 0x03000000); }, "big-endian"},
    {"2^60 tensors", [](std::string& b) { Poke<uint64_t>(b, 8, 1ull << 60); }, "can hold"},
    {"2^60 kvs", [](std::string& b) { Poke<uint64_t>(b, 16, 1ull << 60); }, "can hold"},
    {"2^64-1 kvs", [](std::string& b) { Poke<uint64_t>(b, 16, ~0ull); }, "can hold"},
    {"one kv too many", [](std::string& b) { Poke<uint64_t>(b, 16, 8); }, "at offset"},
    {"huge key length", [](std::string& b) { Poke<uint64_t>(b, 24, 1ull << 62); }, "claims"},
    {"huge string length",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "general.architecture") + 4, ~0ull); },
     "claims"},
    {"huge array length",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "ints") + 8, 1ull << 60); },
     "claims 1152921504606846976 elements"},
    {"huge string array length",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "strs") + 8, 1ull << 61); }, "claims"},
    {"huge array element string",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "strs") + 16, 1ull << 40); }, "element 0"},
    {"unknown value type", [](std::string& b) { Poke<uint32_t>(b, After(b, "key_a"), 13); },
     "unknown value type 13"},
    {"nested array", [](std::string& b) { Poke<uint32_t>(b, After(b, "ints") + 4, 9); },
     "nests arrays"},
    {"unknown element type", [](std::string& b) { Poke<uint32_t>(b, After(b, "ints") + 4, 77); },
     "unknown element type 77"},
    {"bool of 2", [](std::string& b) { b[After(b, "flag") + 4] = 2; }, "must be 0 or 1"},
    {"duplicate key", [](std::string& b) { b[After(b, "key_b") - 1] = 'a'; },
     "duplicate metadata key 'key_a'"},
    {"duplicate tensor", [](std::string& b) { b[After(b, "tensor_b") - 1] = 'a'; },
     "duplicate tensor name 'tensor_a'"},
    {"n_dims 0", [](std::string& b) { Poke<uint32_t>(b, After(b, "tensor_a") + kNDims, 0); },
     "has 0 dimensions"},
    {"n_dims 99", [](std::string& b) { Poke<uint32_t>(b, After(b, "tensor_a") + kNDims, 99); },
     "has 99 dimensions"},
    {"n_dims 5", [](std::string& b) { Poke<uint32_t>(b, After(b, "tensor_b") + kNDims, 5); },
     "tensor_b"},
    {"dim 0", [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_a") + kDim0, 0); },
     "is zero"},
    {"dim 2^62",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_a") + kDim0, 1ull << 62); },
     "tensor 'tensor_a'"},
    {"dim 2^63",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_a") + kDim0, 1ull << 63); },
     "overflow"},
    {"dims product overflows",
     [](std::string& b) {
       Poke<uint64_t>(b, After(b, "tensor_a") + kDim0, 1ull << 32);
       Poke<uint64_t>(b, After(b, "tensor_a") + kDim0 + 8, 1ull << 32);
     },
     "overflow"},
    {"unknown tensor type",
     [](std::string& b) { Poke<uint32_t>(b, After(b, "tensor_a") + TypeField(2), 99); },
     "tensor 'tensor_a' has unsupported tensor type id 99"},
    {"q4_1 tensor type",
     [](std::string& b) { Poke<uint32_t>(b, After(b, "tensor_a") + TypeField(2), 3); },
     "type id 3"},
    {"partial q8_0 block",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_q") + kDim0, 16); }, "block size 32"},
    {"offset past end",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_b") + OffsetField(1), 1 << 20); },
     "runs past end of file"},
    {"offset wraps around",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_b") + OffsetField(1), ~0ull - 31); },
     "overflows"},
    {"misaligned offset",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_a") + OffsetField(2), 4); },
     "not a multiple of the alignment"},
    {"tensor larger than file",
     [](std::string& b) { Poke<uint64_t>(b, After(b, "tensor_b") + kDim0, 1ull << 40); },
     "needs more data"},
};

std::string CaseName(const ::testing::TestParamInfo<Corruption>& p) {
  std::string name = p.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(All, GgufCorruptionTest, ::testing::ValuesIn(kCorruptions), CaseName);

std::string WithAlignment(GgufValue v) {
  GgufWriter w;
  w.SetValue("general.alignment", std::move(v));
  SURGE_CHECK(w.AddTensor("t", {8}, DType::kF32, std::string(32, '\0')).ok());
  std::string bytes = w.WriteToString();  // written with alignment 32
  return bytes;
}

TEST(GgufCorruptTest, BadAlignmentIsRejected) {
  // The writer refuses to write bad alignments, so patch a good one.
  std::string bytes = WithAlignment(GgufValue::Scalar(GgufType::kUint32, uint32_t{32}));
  for (uint32_t bad : {0u, 3u, 48u, 1u << 31}) {
    Poke<uint32_t>(bytes, After(bytes, "general.alignment") + 4, bad);
    EXPECT_THAT(ExpectRejected(bytes, "alignment " + std::to_string(bad)),
                HasSubstr("general.alignment"));
  }
  Poke<uint32_t>(bytes, After(bytes, "general.alignment"), 8);  // now a string
  ExpectRejected(bytes, "alignment as a string");
}

TEST(GgufCorruptTest, NamesInMessagesAreEscaped) {
  GgufWriter w;
  const std::string name = "evil\x1b[2J\n";
  ASSERT_TRUE(w.AddTensor(name, {1}, DType::kF32, std::string(4, '\0')).ok());
  std::string bytes = w.WriteToString();
  Poke<uint32_t>(bytes, After(bytes, name) + TypeField(1), 99);
  EXPECT_THAT(ExpectRejected(bytes, "escaped"), HasSubstr("tensor 'evil\\x1b[2J\\x0a'"));
}

TEST(GgufCorruptTest, WrongMetadataTypesFailTypedGetters) {
  std::string bytes = ValidFile();
  std::unique_ptr<GgufFile> f = *GgufFile::FromBuffer(bytes);
  EXPECT_FALSE(f->GetUint32("general.architecture").ok());
  EXPECT_FALSE(f->GetString("key_a").ok());
  EXPECT_FALSE(f->GetBool("key_a").ok());
  EXPECT_FALSE(f->GetFloat32("flag").ok());
  EXPECT_FALSE(f->GetStringArray("ints").ok());
  EXPECT_FALSE(f->GetInt32Array("strs").ok());
  EXPECT_FALSE(f->GetFloat32Array("ints").ok());
  EXPECT_FALSE(f->GetArraySize("key_a").ok());
  EXPECT_THAT(f->GetString("ints").status().message(), HasSubstr("array of int32"));
}

}  // namespace
}  // namespace surge::engine::model
