// A whole LSTM or GRU layer, forward and backward, as one TensorFlow op each: the
// hand-fused CPU path of layers/recurrent.py (layers/fused.py builds this file against
// the installed TensorFlow on first use).
//
// What it fuses: the input matmul of every step is one matmul over the whole sequence
// before the loop; each step is then one recurrent matmul and the gates' arithmetic in
// one pass over each sequence's row; the backward pass runs the steps in reverse keeping
// only the pre-activations' gradients, and the weight gradients and the input gradient
// are again one matmul each over the whole sequence after the loop. The batch is split
// into one part per intra-op thread of TensorFlow's pool, each part running its
// sequences' whole loop alone (a sequence's steps depend only on its own), and every
// matmul runs on its calling thread (oneDNN's, one OpenMP thread: no second pool
// competing with TensorFlow's). Why this and not oneDNN's RNN primitives, and what each
// candidate measured: docs/performance.md, "The fused CPU loop".
//
// Layouts: sequences time-major [T, B, F]; Keras's weights as they are (kernel
// [F, G*H], recurrent_kernel [H, G*H], gates in Keras's order: LSTM i, f, c, o; GRU
// z, r, h); the bias is Keras's, flat: LSTM [4H], GRU with reset_after=True [2 * 3H]
// (input bias, then recurrent bias). A GRU has no carry state: c0 is ignored and
// c_last is zeros, so that both cells share one op signature. The mask is time-major
// [T, B] (1: a real step, 0: padding), or empty for none: a masked step keeps the
// previous states, as Keras's loop does (y at that step is the kept h; the caller
// turns y into Keras's outputs, the previous output or zeros, by a multiplication).

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/platform/blocking_counter.h"
#include "tensorflow/core/lib/core/threadpool.h"
#include "Eigen/Core"
#include "oneapi/dnnl/dnnl.hpp"

extern "C" void omp_set_num_threads(int);

namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::errors::InvalidArgument;
using Row = Eigen::Map<Eigen::ArrayXf>;
using ConstRow = Eigen::Map<const Eigen::ArrayXf>;

const float* cdata(const Tensor& t) { return t.flat<float>().data(); }
float* mdata(Tensor* t) { return t->flat<float>().data(); }

// C [m, n] = A [m, k] (or A^T) x B [k, n] (or B^T) + beta * C, row-major, with leading
// dimensions: oneDNN's sgemm, on the calling thread (parallel work is split by the
// callers over independent rows, never inside one matmul).
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

// The per-step matmuls ([n, K] x [K, N], n a part of the batch): oneDNN's matmul
// primitive, whose weights are reordered into its own blocked layout once per op call
// (sgemm would repack them at every step, which costs as much as the product at these
// sizes). Primitives are made once per shape and kept; their scratchpad is the
// caller's, so one primitive may run on several threads at once. With `bf16` the
// primitive multiplies bfloat16 copies of both operands and accumulates in float32
// (the `bf16` attribute: Keras's mixed_bfloat16 policy); everything else stays float32.
// A CPU on which oneDNN has no bfloat16 matmul (no AVX512, no AVX-NE-CONVERT) gets the
// float32 one instead (`bf16` false): oneDNN would otherwise throw, and an exception out
// of a kernel aborts the process.
struct StepMatmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul primitive;
  bool bf16;
  bool bias;  // adds a bias to every row of the product (sequence_matmul's)
};

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::desc plain(int64_t rows, int64_t cols) {
  return dnnl::memory::desc({rows, cols}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
}

dnnl::memory::data_type operand_type(bool bf16) {
  return bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
}

const StepMatmul& step_matmul(int64_t n, int64_t k, int64_t cols, bool bf16) {
  static std::mutex lock;
  static std::map<std::tuple<int64_t, int64_t, int64_t, bool>, std::unique_ptr<StepMatmul>> cache;
  std::lock_guard<std::mutex> guard(lock);
  auto& slot = cache[{n, k, cols, bf16}];
  if (!slot) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto make = [&](bool half) {
      auto any = dnnl::memory::desc({k, cols}, operand_type(half), dnnl::memory::format_tag::any);
      auto src = dnnl::memory::desc({n, k}, operand_type(half), dnnl::memory::format_tag::ab);
      dnnl::matmul::primitive_desc pd(cpu_engine(), src, any, plain(n, cols), attr);
      return new StepMatmul{pd, dnnl::matmul(pd), half, false};
    };
    try {
      slot.reset(make(bf16));
    } catch (const dnnl::error&) {
      if (!bf16) throw;
      slot.reset(make(false));
    }
  }
  return *slot;
}

// The input matmul of every step for `n` sequences of a time-major batch of `batch`:
// x [T, batch, K] rows b0 .. b0+n of every step (strided: no copy) x weights [K, N] +
// bias, written to the same rows of [T, batch, N]. One primitive per part of the batch,
// run at the start of the part's own loop, so that the loop's threads start once.
const StepMatmul& sequence_matmul(int64_t steps, int64_t n, int64_t batch, int64_t k, int64_t cols) {
  static std::mutex lock;
  static std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>, std::unique_ptr<StepMatmul>> cache;
  std::lock_guard<std::mutex> guard(lock);
  auto& slot = cache[{steps, n, batch, k, cols}];
  if (!slot) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto f32 = dnnl::memory::data_type::f32;
    auto src = dnnl::memory::desc({steps, n, k}, f32, {batch * k, k, 1});
    auto weights = dnnl::memory::desc({1, k, cols}, f32, dnnl::memory::format_tag::any);
    auto bias = dnnl::memory::desc({1, 1, cols}, f32, dnnl::memory::format_tag::abc);
    auto dst = dnnl::memory::desc({steps, n, cols}, f32, {batch * cols, cols, 1});
    dnnl::matmul::primitive_desc pd(cpu_engine(), src, weights, bias, dst, attr);
    slot.reset(new StepMatmul{pd, dnnl::matmul(pd), false, true});
  }
  return *slot;
}

// The weights [K, N] (stored row-major, or transposed: stored as [N, K]) in the layout
// of `mm` (a step_matmul, or a sequence_matmul whose weights are [1, K, N]), in `buffer`.
dnnl::memory blocked_weights(OpKernelContext* context, const StepMatmul& mm, const float* weights,
                             int64_t k, int64_t cols, bool transposed, Tensor* buffer) {
  const auto wanted = mm.pd.weights_desc();
  auto user_desc = wanted.get_ndims() == 3  // a sequence_matmul's [1, K, N]
                       ? dnnl::memory::desc({1, k, cols}, dnnl::memory::data_type::f32,
                                            transposed ? dnnl::memory::format_tag::acb : dnnl::memory::format_tag::abc)
                       : dnnl::memory::desc({k, cols}, dnnl::memory::data_type::f32,
                                            transposed ? dnnl::memory::format_tag::ba : dnnl::memory::format_tag::ab);
  dnnl::memory user(user_desc, cpu_engine(), const_cast<float*>(weights));
  auto status = context->allocate_temp(tensorflow::DT_UINT8,
                                       TensorShape({static_cast<int64_t>(wanted.get_size()) + 1}), buffer);
  if (!status.ok()) context->CtxFailure(status);
  dnnl::memory blocked(wanted, cpu_engine(), const_cast<char*>(buffer->tensor_data().data()));
  dnnl::stream stream(cpu_engine());
  dnnl::reorder(user, blocked).execute(stream, user, blocked);
  stream.wait();
  return blocked;
}

// float32 to bfloat16, rounding to nearest even (the conversion oneDNN's reorder does).
void to_bf16(const float* from, uint16_t* to, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, from + i, sizeof(bits));
    to[i] = static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
  }
}

// Runs one primitive step after step on one thread: set the pointers, execute (a bf16
// primitive's source is first copied to bfloat16).
class StepRunner {
 public:
  StepRunner(OpKernelContext* context, const StepMatmul& mm, const dnnl::memory& weights,
             int64_t n, int64_t k, int64_t cols)
      : mm_(mm), stream_(cpu_engine()), weights_(weights),
        src_(mm.pd.src_desc(), cpu_engine(), DNNL_MEMORY_NONE),
        dst_(mm.pd.dst_desc(), cpu_engine(), DNNL_MEMORY_NONE),
        bias_(mm.bias ? mm.pd.bias_desc() : plain(1, cols), cpu_engine(), DNNL_MEMORY_NONE),
        count_(mm.bf16 ? n * k : 0) {
    auto status = context->allocate_temp(
        tensorflow::DT_UINT8, TensorShape({static_cast<int64_t>(mm.pd.scratchpad_desc().get_size()) + 1}), &pad_);
    if (!status.ok()) context->CtxFailure(status);
    scratchpad_ = dnnl::memory(mm.pd.scratchpad_desc(), cpu_engine(),
                               const_cast<char*>(pad_.tensor_data().data()));
    if (mm.bf16) {
      status = context->allocate_temp(tensorflow::DT_UINT16, TensorShape({count_}), &src16_);
      if (!status.ok()) context->CtxFailure(status);
    }
  }
  void run(const float* src, float* dst, const float* bias = nullptr) {
    if (count_) {
      uint16_t* half = src16_.flat<uint16_t>().data();
      to_bf16(src, half, count_);
      src_.set_data_handle(half);
    } else {
      src_.set_data_handle(const_cast<float*>(src));
    }
    dst_.set_data_handle(dst);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_},
                                               {DNNL_ARG_DST, dst_}, {DNNL_ARG_SCRATCHPAD, scratchpad_}};
    if (mm_.bias) {
      bias_.set_data_handle(const_cast<float*>(bias));
      args[DNNL_ARG_BIAS] = bias_;
    }
    mm_.primitive.execute(stream_, args);
    stream_.wait();
  }

 private:
  const StepMatmul& mm_;
  dnnl::stream stream_;
  dnnl::memory weights_;
  dnnl::memory src_, dst_, bias_, scratchpad_;
  Tensor pad_, src16_;
  int64_t count_;
};

// The first sequence of `part` when `batch` sequences are split into `parts`.
int64_t part_start(int64_t batch, int part, int parts) { return batch * part / parts; }

// One StepRunner per part of the batch for [rows of the part, k] x weights [k, cols]
// (`transposed`: the weights stored as [cols, k]); with `steps`, each part's
// sequence_matmul over every step, bias added. Made on the calling thread before the
// parts start (allocating from the kernel's context is not for several threads).
// Parts whose primitives read the same blocked layout share one reordered copy (the
// two reorders of U took about 75 us at T=28, two steps' matmuls).
std::vector<std::unique_ptr<StepRunner>> step_runners(OpKernelContext* context, int64_t batch,
                                                      int parts, const float* weights, int64_t k,
                                                      int64_t cols, bool transposed, bool bf16,
                                                      std::vector<Tensor>* buffers, int64_t steps = 0) {
  std::vector<std::unique_ptr<StepRunner>> runners;
  std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> reordered;
  for (int part = 0; part < parts; ++part) {
    const int64_t n = part_start(batch, part + 1, parts) - part_start(batch, part, parts);
    const StepMatmul& mm = steps ? sequence_matmul(steps, n, batch, k, cols) : step_matmul(n, k, cols, bf16);
    const auto wanted = mm.pd.weights_desc();
    auto same = std::find_if(reordered.begin(), reordered.end(),
                             [&](const auto& done) { return done.first == wanted; });
    if (same == reordered.end()) {
      reordered.emplace_back(wanted, blocked_weights(context, mm, weights, k, cols, transposed,
                                                     &(*buffers)[part]));
      same = reordered.end() - 1;
    }
    runners.emplace_back(new StepRunner(context, mm, same->second, n, k, cols));
  }
  return runners;
}

// Runs work(part, parts) for part = 0 .. parts-1 on TensorFlow's intra-op pool, the
// calling thread taking part 0, and returns when all are done.
template <typename Work>
void in_parallel(OpKernelContext* context, int parts, Work work) {
  if (parts <= 1) {
    work(0, 1);
    return;
  }
  auto* pool = context->device()->tensorflow_cpu_worker_threads()->workers;
  tensorflow::BlockingCounter done(parts - 1);
  for (int part = 1; part < parts; ++part) {
    pool->Schedule([&, part]() {
      work(part, parts);
      done.DecrementCount();
    });
  }
  work(0, parts);
  done.Wait();
}

// How many parts to split a batch of `batch` sequences into: every sequence's steps
// depend only on its own earlier steps, so parts of the batch run their whole loops
// independently, one per core.
int batch_parts(OpKernelContext* context, int64_t batch, int asked) {
  const int threads = context->device()->tensorflow_cpu_worker_threads()->num_threads;
  const int64_t most = asked > 0 ? asked : threads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(most, batch / 8)));
}

// The sums of the columns of a [rows, cols] block of a row-major matrix whose rows are
// `stride` apart. Row by row, so memory is read in order and the adds are vectorised
// (Eigen's colwise().sum() of a row-major block walked each column down the rows: 2-5x
// slower, and the bias gradient of the pixel LSTM was 4.6% of its training step); in
// blocks of rows, so float32 rounding grows with the block size plus the number of
// blocks, not with the rows (T * B: 25,088 at the pixel shape).
Eigen::ArrayXf column_sums(const float* p, int64_t rows, int64_t cols, int64_t stride) {
  constexpr int64_t kBlockRows = 256;
  Eigen::ArrayXf sums = Eigen::ArrayXf::Zero(cols);
  Eigen::ArrayXf block(cols);
  for (int64_t start = 0; start < rows; start += kBlockRows) {
    block.setZero();
    const int64_t end = std::min(rows, start + kBlockRows);
    for (int64_t r = start; r < end; ++r) block += ConstRow(p + r * stride, cols);
    sums += block;
  }
  return sums;
}

// Eigen's logistic (its own clamped exp and one division, no separate negation and
// inverse pass).
void sigmoid_in_place(float* p, int64_t n) {
  Row x(p, n);
  x = x.logistic();
}

struct Sizes {
  bool lstm;
  int64_t steps, batch, features, units;
  int gates() const { return lstm ? 4 : 3; }
  int64_t bias_size() const { return lstm ? 4 * units : 6 * units; }
  // Per step and sequence, what the forward pass keeps for the backward one:
  // LSTM i, f, c~, o (activated) and c; GRU z, r, h~ and the recurrent candidate
  // term (h @ U_h + b_rec_h, which the reset gate multiplies).
  int64_t kept() const { return lstm ? 5 * units : 4 * units; }
};

bool read_sizes(OpKernelContext* context, bool lstm, Sizes* s) {
  const Tensor& x = context->input(0);
  const Tensor& h0 = context->input(1);
  const Tensor& c0 = context->input(2);
  const Tensor& kernel = context->input(3);
  const Tensor& recurrent = context->input(4);
  const Tensor& bias = context->input(5);
  if (x.dims() != 3 || h0.dims() != 2) {
    context->CtxFailure(InvalidArgument("expected x [T, B, F] and h0 [B, H], received ",
                                        x.shape().DebugString(), " and ", h0.shape().DebugString()));
    return false;
  }
  s->lstm = lstm;
  s->steps = x.dim_size(0);
  s->batch = x.dim_size(1);
  s->features = x.dim_size(2);
  s->units = h0.dim_size(1);
  const int64_t gh = s->gates() * s->units;
  const bool ok = h0.dim_size(0) == s->batch && c0.shape() == h0.shape() && kernel.dims() == 2 &&
                  kernel.dim_size(0) == s->features && kernel.dim_size(1) == gh &&
                  recurrent.dims() == 2 && recurrent.dim_size(0) == s->units &&
                  recurrent.dim_size(1) == gh && bias.dims() == 1 &&
                  bias.dim_size(0) == s->bias_size();
  if (!ok) {
    context->CtxFailure(InvalidArgument(
        "shapes do not fit one ", lstm ? "LSTM" : "GRU", " layer: x ", x.shape().DebugString(),
        ", h0 ", h0.shape().DebugString(), ", c0 ", c0.shape().DebugString(), ", kernel ",
        kernel.shape().DebugString(), ", recurrent_kernel ", recurrent.shape().DebugString(),
        ", bias ", bias.shape().DebugString()));
    return false;
  }
  if (s->steps == 0 || s->batch == 0) {
    context->CtxFailure(InvalidArgument("the fused loop needs at least one step and one sequence"));
    return false;
  }
  const Tensor& mask = context->input(6);
  const bool time_major = mask.dims() == 2 && mask.dim_size(0) == s->steps && mask.dim_size(1) == s->batch;
  if (mask.NumElements() != 0 && !time_major) {
    context->CtxFailure(InvalidArgument("the mask must be [T, B] = [", s->steps, ", ", s->batch,
                                        "] (or empty for none), received ", mask.shape().DebugString()));
    return false;
  }
  return true;
}

// The mask's values (nullptr: no mask); step t of sequence b is real where mask[t * B + b] is 1.
const float* mask_of(OpKernelContext* context) {
  const Tensor& mask = context->input(6);
  return mask.NumElements() ? cdata(mask) : nullptr;
}

bool padding(const float* mask, int64_t row) { return mask != nullptr && mask[row] < 0.5f; }

// What both ops read from their attributes: the cell, and how many parts to split
// the batch into (0: one per intra-op thread).
class FusedOp : public OpKernel {
 public:
  explicit FusedOp(OpKernelConstruction* context) : OpKernel(context) {
    std::string cell;
    OP_REQUIRES_OK(context, context->GetAttr("cell", &cell));
    OP_REQUIRES_OK(context, context->GetAttr("threads", &threads_));
    OP_REQUIRES_OK(context, context->GetAttr("bf16", &bf16_));
    lstm_ = cell == "lstm";
  }

 protected:
  bool lstm_ = true;
  int threads_ = 0;
  bool bf16_ = false;  // the per-step matmuls in bfloat16 (float32 accumulation)
};

class ForwardOp : public FusedOp {
 public:
  explicit ForwardOp(OpKernelConstruction* context) : FusedOp(context) {
    OP_REQUIRES_OK(context, context->GetAttr("training", &training_));
  }

  void Compute(OpKernelContext* context) override {
    Sizes s;
    if (!read_sizes(context, lstm_, &s)) return;
    const int64_t T = s.steps, B = s.batch, F = s.features, H = s.units, G = s.gates() * H;
    Tensor *y, *h_last, *c_last, *kept;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({T, B, H}), &y));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({B, H}), &h_last));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({B, H}), &c_last));
    OP_REQUIRES_OK(context, context->allocate_output(
                                3, TensorShape({training_ ? T * B * s.kept() : 0}), &kept));
    Tensor projected_t, recurrent_t, gru_recurrent_t, carry_t;
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({T * B, G}), &projected_t));
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, G}), &recurrent_t));
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({lstm_ ? 1 : B, G}),
                                                   &gru_recurrent_t));
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, H}), &carry_t));
    float* projected = mdata(&projected_t);
    float* rec_all = mdata(&recurrent_t);
    float* carry_all = mdata(&carry_t);
    const float* x = cdata(context->input(0));
    const float* h0 = cdata(context->input(1));
    const float* bias = cdata(context->input(5));
    const float* W = cdata(context->input(3));
    const float* U = cdata(context->input(4));
    const float* rec_bias = lstm_ ? nullptr : bias + G;
    float* out = mdata(y);
    float* keep = mdata(kept);
    const float* mask = mask_of(context);
    std::memcpy(carry_all, cdata(context->input(2)), sizeof(float) * B * H);
    omp_set_num_threads(1);
    const int parts = batch_parts(context, B, threads_);
    // The runners are made here, on the calling thread (the kernel's context allocates
    // their buffers); the loop's parts then start once.
    std::vector<Tensor> input_buffers(parts), buffers(parts);
    const auto projections = step_runners(context, B, parts, W, F, G, /*transposed=*/false, /*bf16=*/false,
                                          &input_buffers, /*steps=*/T);
    const auto runners = step_runners(context, B, parts, U, H, G, /*transposed=*/false, bf16_, &buffers);
    if (!context->status().ok()) return;
    in_parallel(context, parts, [&](int part, int parts) {
      omp_set_num_threads(1);
      const int64_t b0 = part_start(B, part, parts), n = part_start(B, part + 1, parts) - b0;
      // Every step's input matmul for this part's sequences at once, with the input bias
      // added by the matmul (on one thread for the whole batch it was a third of the
      // forward pass at T=100, F=64, the other core idle; as a parallel section of its
      // own it cost one more start of the threads, measurable at T=28).
      projections[part]->run(x + b0 * F, projected + b0 * G, bias);
      float* rec = rec_all + b0 * G;
      // A GRU keeps h_{t-1} @ U apart: the reset gate multiplies the candidate's part.
      float* hrec = lstm_ ? rec : mdata(&gru_recurrent_t) + b0 * G;
      for (int64_t t = 0; t < T; ++t) {
        const float* h_prev = (t == 0 ? h0 : out + (t - 1) * B * H) + b0 * H;
        runners[part]->run(h_prev, hrec);  // h_{t-1} @ U
        float* h_t = out + (t * B + b0) * H;
        for (int64_t j = 0; j < n; ++j) {
          if (padding(mask, t * B + b0 + j)) {
            // The states go on unchanged; what the backward pass reads of this step is
            // the carry (an LSTM's next step takes it as c_{t-1}).
            std::memcpy(h_t + j * H, h_prev + j * H, sizeof(float) * H);
            if (training_) {
              float* k = keep + (t * B + b0 + j) * s.kept();
              std::memset(k, 0, sizeof(float) * s.kept());
              if (lstm_) std::memcpy(k + G, carry_all + (b0 + j) * H, sizeof(float) * H);
            }
            continue;
          }
          // The pre-activations, in place: x_t @ W + bias (+ h_{t-1} @ U for an LSTM).
          float* pre = rec + j * G;
          if (lstm_) {
            Row(pre, G) += ConstRow(projected + (t * B + b0 + j) * G, G);
          } else {
            std::memcpy(pre, projected + (t * B + b0 + j) * G, sizeof(float) * G);
          }
          Row h(h_t + j * H, H);
          if (lstm_) {
            Row i(pre, H), f(pre + H, H), g(pre + 2 * H, H), o(pre + 3 * H, H);
            Row c(carry_all + (b0 + j) * H, H);
            sigmoid_in_place(pre, 2 * H);
            g = g.tanh();
            sigmoid_in_place(pre + 3 * H, H);
            c = f * c + i * g;
            h = o * c.tanh();
            if (training_) {
              float* k = keep + (t * B + b0 + j) * s.kept();
              std::memcpy(k, pre, sizeof(float) * G);
              std::memcpy(k + G, c.data(), sizeof(float) * H);
            }
          } else {
            // z and r take h_{t-1} @ U and the recurrent biases too; the candidate's
            // recurrent term (h @ U_h + b_rec_h, which r multiplies) stays apart.
            float* ph = hrec + j * G;
            Row(pre, 2 * H) += ConstRow(ph, 2 * H) + ConstRow(rec_bias, 2 * H);
            sigmoid_in_place(pre, 2 * H);
            Row z(pre, H), r(pre + H, H), candidate(pre + 2 * H, H);
            Row hh(ph + 2 * H, H);
            hh += ConstRow(rec_bias + 2 * H, H);
            candidate = (candidate + r * hh).tanh();
            h = z * ConstRow(h_prev + j * H, H) + (1.0f - z) * candidate;
            if (training_) {
              float* k = keep + (t * B + b0 + j) * s.kept();
              std::memcpy(k, pre, sizeof(float) * G);
              std::memcpy(k + G, hh.data(), sizeof(float) * H);
            }
          }
        }
      }
    });
    std::memcpy(mdata(h_last), out + (T - 1) * B * H, sizeof(float) * B * H);
    if (lstm_) {
      std::memcpy(mdata(c_last), carry_all, sizeof(float) * B * H);
    } else {
      std::memset(mdata(c_last), 0, sizeof(float) * B * H);
    }
  }

 private:
  bool training_ = true;
};

class BackwardOp : public FusedOp {
 public:
  using FusedOp::FusedOp;

  void Compute(OpKernelContext* context) override {
    Sizes s;
    if (!read_sizes(context, lstm_, &s)) return;
    const int64_t T = s.steps, B = s.batch, F = s.features, H = s.units, G = s.gates() * H;
    const Tensor& kept_t = context->input(10);
    OP_REQUIRES(context, kept_t.NumElements() == T * B * s.kept(),
                InvalidArgument("the kept activations are not the forward training pass's of "
                                "this shape (", kept_t.NumElements(), " values)"));
    Tensor *dx, *dh0, *dc0, *dkernel, *drecurrent, *dbias;
    OP_REQUIRES_OK(context, context->allocate_output(0, context->input(0).shape(), &dx));
    OP_REQUIRES_OK(context, context->allocate_output(1, context->input(1).shape(), &dh0));
    OP_REQUIRES_OK(context, context->allocate_output(2, context->input(2).shape(), &dc0));
    OP_REQUIRES_OK(context, context->allocate_output(3, context->input(3).shape(), &dkernel));
    OP_REQUIRES_OK(context, context->allocate_output(4, context->input(4).shape(), &drecurrent));
    OP_REQUIRES_OK(context, context->allocate_output(5, context->input(5).shape(), &dbias));
    // The gradients of the pre-activations: of x @ W + b_in (dX) and, for a GRU whose
    // candidate's recurrent term is reset, separately of h @ U + b_rec (dR).
    Tensor dX_t, dR_t, dh_t, prev_t;
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({T * B, G}), &dX_t));
    if (!lstm_) {
      OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({T * B, G}), &dR_t));
    }
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({B, H}), &dh_t));
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({T * B, H}), &prev_t));
    float* dX = mdata(&dX_t);
    float* dR = lstm_ ? dX : mdata(&dR_t);  // an LSTM's two are the same
    float* dh = mdata(&dh_t);
    float* dc = mdata(dc0);
    float* h_prev_all = mdata(&prev_t);  // h_{t-1} for every step: h0, y_0, ..., y_{T-2}
    const float* x = cdata(context->input(0));
    const float* h0 = cdata(context->input(1));
    const float* c0 = cdata(context->input(2));
    const float* W = cdata(context->input(3));
    const float* U = cdata(context->input(4));
    const float* y = cdata(context->input(7));
    const float* kept = cdata(kept_t);
    const float* dy = cdata(context->input(11));
    const float* mask = mask_of(context);
    // Masked steps pass dh_t on to dh_{t-1} unchanged, beside the recurrent matmul's part
    // (as a GRU's direct path does): kept apart while the matmul writes dh.
    const bool direct_path = !lstm_ || mask != nullptr;
    std::memcpy(h_prev_all, h0, sizeof(float) * B * H);
    if (T > 1) std::memcpy(h_prev_all + B * H, y, sizeof(float) * (T - 1) * B * H);
    std::memcpy(dh, cdata(context->input(12)), sizeof(float) * B * H);
    if (lstm_) {
      std::memcpy(dc, cdata(context->input(13)), sizeof(float) * B * H);
    } else {
      std::memset(dc, 0, sizeof(float) * B * H);
    }
    omp_set_num_threads(1);
    const int parts = batch_parts(context, B, threads_);
    std::vector<Tensor> buffers(parts);
    // dh_{t-1} = dpre_t x U^T: U [H, G] read as the [G, H] weights of the product.
    const auto runners = step_runners(context, B, parts, U, G, H, /*transposed=*/true, bf16_, &buffers);
    Tensor direct_t;  // the direct path (a GRU's dh * z, a masked step's dh), before the matmul's part
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT, TensorShape({direct_path ? B : 1, H}), &direct_t));
    if (!context->status().ok()) return;
    in_parallel(context, parts, [&](int part, int parts) {
      omp_set_num_threads(1);
      const int64_t b0 = part_start(B, part, parts), n = part_start(B, part + 1, parts) - b0;
      for (int64_t t = T - 1; t >= 0; --t) {
        for (int64_t j = 0; j < n; ++j) {
          const int64_t row = t * B + b0 + j;
          Row dh_b(dh + (b0 + j) * H, H);
          dh_b += ConstRow(dy + row * H, H);
          const float* k = kept + row * s.kept();
          float* gx = dX + row * G;
          if (padding(mask, row)) {
            // No gate saw this step: its pre-activation gradients are zero and dh, dc go
            // on to the step before as they are.
            std::memset(gx, 0, sizeof(float) * G);
            if (!lstm_) std::memset(dR + row * G, 0, sizeof(float) * G);
            continue;
          }
          if (lstm_) {
            const ConstRow i(k, H), f(k + H, H), g(k + 2 * H, H), o(k + 3 * H, H), c(k + 4 * H, H);
            const float* c_prev = t > 0 ? kept + (row - B) * s.kept() + 4 * H : c0 + (b0 + j) * H;
            Row dc_b(dc + (b0 + j) * H, H);
            Row tc(gx + 3 * H, H);  // tanh(c) first, then the o gate's gradient in its place
            tc = c.tanh();
            dc_b += dh_b * o * (1.0f - tc.square());
            tc = dh_b * tc * o * (1.0f - o);
            Row(gx, H) = dc_b * g * i * (1.0f - i);
            Row(gx + H, H) = dc_b * ConstRow(c_prev, H) * f * (1.0f - f);
            Row(gx + 2 * H, H) = dc_b * i * (1.0f - g.square());
            dc_b *= f;
            if (direct_path) dh_b = 0.0f;  // all of dh_{t-1} comes from the matmul
          } else {
            const ConstRow z(k, H), r(k + H, H), candidate(k + 2 * H, H), hh(k + 3 * H, H);
            const ConstRow h_prev(h_prev_all + row * H, H);
            float* gr = dR + row * G;
            Row dpre(gx + 2 * H, H);  // of the candidate's pre-activation
            dpre = dh_b * (1.0f - z) * (1.0f - candidate.square());
            Row(gx, H) = dh_b * (h_prev - candidate) * z * (1.0f - z);
            Row(gx + H, H) = dpre * hh * r * (1.0f - r);
            std::memcpy(gr, gx, sizeof(float) * 2 * H);
            Row(gr + 2 * H, H) = dpre * r;
            dh_b *= z;  // the direct path; the recurrent matmul's is added below
          }
        }
        // dh_{t-1}: the step's recurrent pre-activation gradients x U^T (+ a GRU's direct path).
        if (!direct_path) {
          runners[part]->run(dR + (t * B + b0) * G, dh + b0 * H);
        } else {
          float* direct = mdata(&direct_t) + b0 * H;
          std::memcpy(direct, dh + b0 * H, sizeof(float) * n * H);
          runners[part]->run(dR + (t * B + b0) * G, dh + b0 * H);
          Row(dh + b0 * H, n * H) += ConstRow(direct, n * H);
        }
      }
    });
    std::memcpy(mdata(dh0), dh, sizeof(float) * B * H);
    if (!lstm_) std::memset(dc, 0, sizeof(float) * B * H);
    // After the loop, every step at once, split between the threads: dx, the input
    // pre-activation gradients x W^T, by rows; the weight and bias gradients, sums over
    // every step and sequence, by columns.
    in_parallel(context, parts, [&](int part, int p) {
      omp_set_num_threads(1);
      const int64_t r0 = T * B * part / p, rows = T * B * (part + 1) / p - r0;
      gemm(false, true, rows, F, G, dX + r0 * G, G, W, G, 0.0f, mdata(dx) + r0 * F, F);
      const int64_t c0_ = G * part / p, cols = G * (part + 1) / p - c0_;
      gemm(true, false, F, cols, T * B, x, F, dX + c0_, G, 0.0f, mdata(dkernel) + c0_, G);
      gemm(true, false, H, cols, T * B, h_prev_all, H, dR + c0_, G, 0.0f, mdata(drecurrent) + c0_, G);
      Row(mdata(dbias) + c0_, cols) = column_sums(dX + c0_, T * B, cols, G);
      if (!lstm_) Row(mdata(dbias) + G + c0_, cols) = column_sums(dR + c0_, T * B, cols, G);
    });
  }

};

}  // namespace

REGISTER_OP("RnnSuiteFusedForward")
    .Input("x: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Input("mask: float")
    .Output("y: float")
    .Output("h_last: float")
    .Output("c_last: float")
    .Output("kept: float")
    .Attr("cell: {'lstm', 'gru'}")
    .Attr("training: bool")
    .Attr("threads: int = 0")
    .Attr("bf16: bool = false")
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
      auto x = c->input(0);
      auto h0 = c->input(1);
      ::tensorflow::shape_inference::DimensionHandle steps = c->Dim(x, 0), batch = c->Dim(x, 1),
                                                     units = c->Dim(h0, 1);
      c->set_output(0, c->MakeShape({steps, batch, units}));
      c->set_output(1, c->MakeShape({batch, units}));
      c->set_output(2, c->MakeShape({batch, units}));
      c->set_output(3, c->Vector(c->UnknownDim()));
      return ::tensorflow::OkStatus();
    });

REGISTER_OP("RnnSuiteFusedBackward")
    .Input("x: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Input("mask: float")
    .Input("y: float")
    .Input("h_last: float")
    .Input("c_last: float")
    .Input("kept: float")
    .Input("dy: float")
    .Input("dh_last: float")
    .Input("dc_last: float")
    .Output("dx: float")
    .Output("dh0: float")
    .Output("dc0: float")
    .Output("dkernel: float")
    .Output("drecurrent_kernel: float")
    .Output("dbias: float")
    .Attr("cell: {'lstm', 'gru'}")
    .Attr("threads: int = 0")
    .Attr("bf16: bool = false")
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
      for (int i = 0; i < 6; ++i) c->set_output(i, c->input(i));
      return ::tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("RnnSuiteFusedForward").Device(::tensorflow::DEVICE_CPU), ForwardOp);
REGISTER_KERNEL_BUILDER(Name("RnnSuiteFusedBackward").Device(::tensorflow::DEVICE_CPU), BackwardOp);
