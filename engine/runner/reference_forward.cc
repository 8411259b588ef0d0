#include "engine/runner/reference_forward.h"

#include <cmath>

#include "engine/kernels/quantize.h"

namespace surge::engine::runner {
namespace {

using Vec = std::vector<float>;

// y = W x for a matrix stored in any supported type.
Vec MatVec(const kernels::Matrix& w, const Vec& x) {
  Vec row(w.cols), y(w.rows);
  const int64_t row_bytes = kernels::RowBytes(w.type, w.cols);
  for (int64_t r = 0; r < w.rows; ++r) {
    kernels::DequantizeRow(w.type, static_cast<const uint8_t*>(w.data) + r * row_bytes, w.cols,
                           row.data());
    double acc = 0;
    for (int64_t c = 0; c < w.cols; ++c) acc += static_cast<double>(row[c]) * x[c];
    y[r] = static_cast<float>(acc);
  }
  return y;
}

void RmsNormInPlace(float* x, const float* weight, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(ss / n + eps);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] * inv) * weight[i];
}

void RopeInPlace(float* x, int head_dim, int64_t pos, float base, kernels::RopeStyle style) {
  for (int i = 0; i < head_dim / 2; ++i) {
    const double theta = pos * std::pow(static_cast<double>(base), -2.0 * i / head_dim);
    const double c = std::cos(theta), s = std::sin(theta);
    const int a = style == kernels::RopeStyle::kNormal ? 2 * i : i;
    const int b = style == kernels::RopeStyle::kNormal ? 2 * i + 1 : i + head_dim / 2;
    const double x0 = x[a], x1 = x[b];
    x[a] = static_cast<float>(x0 * c - x1 * s);
    x[b] = static_cast<float>(x0 * s + x1 * c);
  }
}

float RoundToHalf(float f) { return kernels::HalfToFloat(kernels::FloatToHalf(f)); }

}  // namespace

std::vector<float> ReferenceForward(const model::Model& model, std::span<const int32_t> tokens) {
  const model::ModelConfig& c = model.config();
  const model::ModelWeights& w = model.weights();
  const int hd = c.head_dim;
  const int64_t n = static_cast<int64_t>(tokens.size());
  // keys[layer][pos] / values[layer][pos]: kv_dim floats each.
  std::vector<std::vector<Vec>> keys(c.n_layers), values(c.n_layers);
  std::vector<float> all_logits;

  for (int64_t pos = 0; pos < n; ++pos) {
    Vec x(c.n_embd);
    const kernels::Matrix& e = w.token_embd();
    kernels::DequantizeRow(
        e.type,
        static_cast<const uint8_t*>(e.data) + tokens[pos] * kernels::RowBytes(e.type, e.cols),
        e.cols, x.data());
    for (int il = 0; il < c.n_layers; ++il) {
      const model::LayerWeights& l = w.layer(il);
      Vec h = x;
      RmsNormInPlace(h.data(), l.attn_norm, c.n_embd, c.rms_eps);
      Vec q = MatVec(l.wq, h), k = MatVec(l.wk, h), v = MatVec(l.wv, h);
      if (l.bq != nullptr) {
        for (int i = 0; i < c.q_dim(); ++i) q[i] += l.bq[i];
        for (int i = 0; i < c.kv_dim(); ++i) k[i] += l.bk[i], v[i] += l.bv[i];
      }
      for (int hh = 0; hh < c.n_heads; ++hh) {
        if (l.q_norm != nullptr) RmsNormInPlace(&q[hh * hd], l.q_norm, hd, c.rms_eps);
        RopeInPlace(&q[hh * hd], hd, pos, c.rope_freq_base, c.arch.rope_style);
      }
      for (int g = 0; g < c.n_kv_heads; ++g) {
        if (l.k_norm != nullptr) RmsNormInPlace(&k[g * hd], l.k_norm, hd, c.rms_eps);
        RopeInPlace(&k[g * hd], hd, pos, c.rope_freq_base, c.arch.rope_style);
      }
      for (float& f : k) f = RoundToHalf(f);
      for (float& f : v) f = RoundToHalf(f);
      keys[il].push_back(k);
      values[il].push_back(v);

      Vec attn(c.q_dim());
      const int group = c.n_heads / c.n_kv_heads;
      for (int hh = 0; hh < c.n_heads; ++hh) {
        const int g = hh / group;
        std::vector<double> s(pos + 1);
        double mx = -INFINITY;
        for (int64_t p = 0; p <= pos; ++p) {
          double dot = 0;
          for (int i = 0; i < hd; ++i)
            dot += static_cast<double>(q[hh * hd + i]) * keys[il][p][g * hd + i];
          s[p] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[p]);
        }
        double sum = 0;
        for (double& sp : s) sum += (sp = std::exp(sp - mx));
        for (int i = 0; i < hd; ++i) {
          double acc = 0;
          for (int64_t p = 0; p <= pos; ++p) acc += s[p] / sum * values[il][p][g * hd + i];
          attn[hh * hd + i] = static_cast<float>(acc);
        }
      }
      Vec o = MatVec(l.wo, attn);
      for (int i = 0; i < c.n_embd; ++i) x[i] += o[i];

      h = x;
      RmsNormInPlace(h.data(), l.ffn_norm, c.n_embd, c.rms_eps);
      Vec gate = MatVec(l.w_gate, h), up = MatVec(l.w_up, h);
      for (int i = 0; i < c.n_ff; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
      Vec down = MatVec(l.w_down, gate);
      for (int i = 0; i < c.n_embd; ++i) x[i] += down[i];
    }
    RmsNormInPlace(x.data(), w.output_norm(), c.n_embd, c.rms_eps);
    Vec logits = MatVec(w.output(), x);
    all_logits.insert(all_logits.end(), logits.begin(), logits.end());
  }
  return all_logits;
}

}  // namespace surge::engine::runner
