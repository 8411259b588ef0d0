#include "engine/session_file.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/kernels/dtype.h"

namespace surge::engine {
namespace {

constexpr char kMagic[8] = {'S', 'U', 'R', 'G', 'E', 'S', 'E', 'S'};
constexpr uint32_t kVersion = 2;  // 2: the K/V row type in the header
constexpr uint32_t kMaxIdBytes = 4096;

template <typename T>
void Put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// A bounds-checked cursor over the file's bytes.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T& v) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Bytes(size_t n, const char** p) {
    if (bytes_.size() - pos_ < n) return false;
    *p = bytes_.data() + pos_;
    pos_ += n;
    return true;
  }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Bytes of K (or V) of one block in one layer.
int64_t BlockLayerBytes(const kv::KvCacheShape& s) {
  return static_cast<int64_t>(s.n_kv_heads) * s.block_size * s.row_bytes();
}

}  // namespace

uint64_t ModelFingerprint(const model::Model& model) {
  const model::ModelConfig& c = model.config();
  std::string key = absl::StrCat(model.name(), "|", c.n_layers, "|", c.n_embd, "|", c.n_heads, "|",
                                 c.n_kv_heads, "|", c.n_ff, "|", c.n_vocab);
  const kernels::Matrix& e = model.weights().token_embd();
  const size_t row = static_cast<size_t>(kernels::RowBytes(e.type, e.cols));
  key.append(static_cast<const char*>(e.data), std::min<size_t>(row * 4, 1 << 16));
  key.append(reinterpret_cast<const char*>(model.weights().output_norm()),
             static_cast<size_t>(c.n_embd) * sizeof(float));
  return XXH3_64bits(key.data(), key.size());
}

std::vector<uint8_t> ReadBlocks(kv::KvCache& cache, const std::vector<int32_t>& blocks) {
  const kv::KvCacheShape& s = cache.shape();
  const int64_t n = BlockLayerBytes(s);
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(n * 2 * s.n_layers) * blocks.size());
  for (int32_t b : blocks) {
    for (int layer = 0; layer < s.n_layers; ++layer) {
      const uint8_t* k = cache.k(layer) + cache.Offset(b, 0, 0);
      const uint8_t* v = cache.v(layer) + cache.Offset(b, 0, 0);
      out.insert(out.end(), k, k + n);
      out.insert(out.end(), v, v + n);
    }
  }
  return out;
}

void WriteBlocks(kv::KvCache& cache, const std::vector<int32_t>& blocks,
                 const std::vector<uint8_t>& kv) {
  const kv::KvCacheShape& s = cache.shape();
  const int64_t n = BlockLayerBytes(s);
  const uint8_t* src = kv.data();
  for (int32_t b : blocks) {
    for (int layer = 0; layer < s.n_layers; ++layer) {
      std::memcpy(cache.k(layer) + cache.Offset(b, 0, 0), src, n);
      src += n;
      std::memcpy(cache.v(layer) + cache.Offset(b, 0, 0), src, n);
      src += n;
    }
  }
}

void WipeBlocks(kv::KvCache& cache, const std::vector<int32_t>& blocks) {
  const kv::KvCacheShape& s = cache.shape();
  const int64_t n = BlockLayerBytes(s);
  for (int32_t b : blocks) {
    for (int layer = 0; layer < s.n_layers; ++layer) {
      std::memset(cache.k(layer) + cache.Offset(b, 0, 0), 0, n);
      std::memset(cache.v(layer) + cache.Offset(b, 0, 0), 0, n);
    }
  }
}

std::string SerializeSession(const SessionRecord& r, uint64_t fingerprint,
                             const kv::KvCacheShape& shape) {
  std::string out(kMagic, sizeof(kMagic));
  Put(out, kVersion);
  Put(out, fingerprint);
  for (int32_t v : {shape.n_layers, shape.n_kv_heads, shape.head_dim, shape.block_size,
                    static_cast<int32_t>(shape.type)}) {
    Put(out, static_cast<uint32_t>(v));
  }
  Put(out, r.salt);
  Put(out, static_cast<uint32_t>(r.id.size()));
  out += r.id;
  Put(out, static_cast<uint32_t>(r.tokens.size()));
  out.append(reinterpret_cast<const char*>(r.tokens.data()), r.tokens.size() * sizeof(int32_t));
  out.append(reinterpret_cast<const char*>(r.kv.data()), r.kv.size());
  Put(out, static_cast<uint64_t>(XXH3_64bits(out.data(), out.size())));
  return out;
}

absl::StatusOr<SessionRecord> ParseSession(std::string_view bytes, uint64_t fingerprint,
                                           const kv::KvCacheShape& shape, int32_t n_vocab) {
  if (bytes.size() < sizeof(kMagic) + sizeof(uint64_t) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError("not a Surge session file (bad magic)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - sizeof(uint64_t));
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + body.size(), sizeof(sum));
  if (sum != XXH3_64bits(body.data(), body.size())) {
    return absl::DataLossError("session file is corrupt (checksum mismatch)");
  }
  Reader in(body.substr(sizeof(kMagic)));
  uint32_t version = 0, dims[5] = {0, 0, 0, 0, 0};
  uint64_t file_fingerprint = 0;
  SessionRecord r;
  uint32_t id_bytes = 0, n_tokens = 0;
  const char* p = nullptr;
  if (!in.Get(version) || version != kVersion) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported session file version ", version));
  }
  if (!in.Get(file_fingerprint) || !in.Get(dims[0]) || !in.Get(dims[1]) || !in.Get(dims[2]) ||
      !in.Get(dims[3]) || !in.Get(dims[4]) || !in.Get(r.salt) || !in.Get(id_bytes)) {
    return absl::DataLossError("session file is truncated");
  }
  if (file_fingerprint != fingerprint || dims[0] != static_cast<uint32_t>(shape.n_layers) ||
      dims[1] != static_cast<uint32_t>(shape.n_kv_heads) ||
      dims[2] != static_cast<uint32_t>(shape.head_dim) ||
      dims[3] != static_cast<uint32_t>(shape.block_size) ||
      dims[4] != static_cast<uint32_t>(shape.type)) {
    return absl::FailedPreconditionError("session file belongs to another model or KV layout");
  }
  if (id_bytes > kMaxIdBytes || !in.Bytes(id_bytes, &p)) {
    return absl::DataLossError("session file has a bad id length");
  }
  r.id.assign(p, id_bytes);
  if (!in.Get(n_tokens) || n_tokens % static_cast<uint32_t>(shape.block_size) != 0 ||
      in.remaining() / sizeof(int32_t) < n_tokens) {
    return absl::DataLossError("session file has a bad token count");
  }
  r.tokens.resize(n_tokens);
  in.Bytes(n_tokens * sizeof(int32_t), &p);
  std::memcpy(r.tokens.data(), p, n_tokens * sizeof(int32_t));
  for (int32_t t : r.tokens) {
    if (t < 0 || t >= n_vocab) return absl::DataLossError("session file has a bad token id");
  }
  const uint64_t kv_bytes = static_cast<uint64_t>(n_tokens / shape.block_size) * 2 *
                            shape.n_layers * BlockLayerBytes(shape);
  if (in.remaining() != kv_bytes) {
    return absl::DataLossError("session file's KV data has the wrong size");
  }
  r.kv.resize(kv_bytes);
  in.Bytes(kv_bytes, &p);
  std::memcpy(r.kv.data(), p, kv_bytes);
  return r;
}

}  // namespace surge::engine
