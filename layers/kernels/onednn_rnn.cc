// A whole LSTM or GRU layer, forward and backward, as one call into oneDNN's RNN
// primitives: the fused CPU path of layers/recurrent.py (see layers/onednn.py, which
// builds this file against the installed TensorFlow on first use).
//
// Layouts: the sequences are time-major [T, B, F]; the weights are Keras's own
// (kernel [F, G*H], recurrent_kernel [H, G*H], gates in Keras's order), which are
// oneDNN's ldigo layout as they are; the bias is oneDNN's [B_G * H] (LSTM: Keras's
// [4H]; GRU with reset_after=True: the four linear-before-reset gates that
// layers/onednn.py folds Keras's [2, 3H] into). A GRU has no carry state: its c0 is
// ignored and its c_last is zeros, so that both cells share one op signature.
//
// Why a user-managed scratchpad: with oneDNN's library-managed one, a primitive is
// tied to the thread that created it, and TensorFlow runs a kernel on whichever
// pool thread is free (it crashed in copy_bias_to_ws 2 runs in 8). Here every call
// allocates its scratchpad from TensorFlow's allocator, so a cached primitive may
// run on any thread, and two layers may run it at once (a bidirectional pair).

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "oneapi/dnnl/dnnl.hpp"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

extern "C" void omp_set_num_threads(int);

namespace {

using ::tensorflow::DT_FLOAT;
using ::tensorflow::DT_UINT8;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::errors::InvalidArgument;
using dnnl::memory;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::desc plain(const memory::dims& dims, tag format) {
  return memory::desc(dims, memory::data_type::f32, format);
}

memory::desc any(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, tag::any);
}

memory::desc none() { return memory::desc(); }

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// The sizes one primitive is made for.
struct Shape {
  bool lstm;
  int64_t steps, batch, features, units;
  int gates() const { return lstm ? 4 : 3; }
  int bias_gates() const { return 4; }
  memory::dims src_layer() const { return {steps, batch, features}; }
  memory::dims dst_layer() const { return {steps, batch, units}; }
  memory::dims iter() const { return {1, 1, batch, units}; }
  memory::dims weights_layer() const { return {1, 1, features, gates(), units}; }
  memory::dims weights_iter() const { return {1, 1, units, gates(), units}; }
  memory::dims bias() const { return {1, 1, bias_gates(), units}; }
  std::tuple<bool, int64_t, int64_t, int64_t, int64_t> key() const {
    return {lstm, steps, batch, features, units};
  }
};

// Forward (training or inference) and backward primitives for one shape: made once,
// kept for the life of the process (primitive creation JIT-compiles kernels).
struct Primitives {
  dnnl::rnn_primitive_desc_base forward_pd;
  dnnl::primitive forward;
  dnnl::rnn_primitive_desc_base backward_pd;
  dnnl::primitive backward;
};

Primitives make_primitives(const Shape& s, bool training) {
  const auto prop = training ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  const auto direction = dnnl::rnn_direction::unidirectional_left2right;
  auto& engine = cpu_engine();
  const auto attr = user_scratchpad();
  const auto src = plain(s.src_layer(), tag::tnc);
  const auto dst = plain(s.dst_layer(), tag::tnc);
  const auto iter = plain(s.iter(), tag::ldnc);
  const auto bias = plain(s.bias(), tag::ldgo);
  Primitives p;
  if (s.lstm) {
    dnnl::lstm_forward::primitive_desc fwd(
        engine, prop, direction, src, iter, iter, any(s.weights_layer()),
        any(s.weights_iter()), bias, dst, iter, iter, attr);
    p.forward_pd = fwd;
    p.forward = dnnl::lstm_forward(fwd);
    if (training) {
      dnnl::lstm_backward::primitive_desc bwd(
          engine, dnnl::prop_kind::backward, direction, src, iter, iter,
          any(s.weights_layer()), any(s.weights_iter()), bias, dst, iter, iter,
          src, iter, iter, any(s.weights_layer()), any(s.weights_iter()), bias,
          dst, iter, iter, fwd, attr);
      p.backward_pd = bwd;
      p.backward = dnnl::lstm_backward(bwd);
    }
  } else {
    dnnl::lbr_gru_forward::primitive_desc fwd(
        engine, prop, direction, src, iter, any(s.weights_layer()),
        any(s.weights_iter()), bias, dst, iter, attr);
    p.forward_pd = fwd;
    p.forward = dnnl::lbr_gru_forward(fwd);
    if (training) {
      dnnl::lbr_gru_backward::primitive_desc bwd(
          engine, dnnl::prop_kind::backward, direction, src, iter,
          any(s.weights_layer()), any(s.weights_iter()), bias, dst, iter, src,
          iter, any(s.weights_layer()), any(s.weights_iter()), bias, dst, iter,
          fwd, attr);
      p.backward_pd = bwd;
      p.backward = dnnl::lbr_gru_backward(bwd);
    }
  }
  return p;
}

const Primitives& primitives_for(const Shape& s, bool training) {
  static std::mutex lock;
  static std::map<std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t>,
                  std::unique_ptr<Primitives>>
      cache;
  const auto key = std::tuple_cat(std::make_tuple(training), s.key());
  std::lock_guard<std::mutex> guard(lock);
  auto found = cache.find(key);
  if (found == cache.end()) {
    found = cache.emplace(key, std::make_unique<Primitives>(make_primitives(s, training))).first;
  }
  return *found->second;
}

float* data(const Tensor& t) { return const_cast<float*>(t.flat<float>().data()); }

memory wrap(const memory::desc& desc, const Tensor& t) {
  return memory(desc, cpu_engine(), const_cast<char*>(t.tensor_data().data()));
}

// A temporary TensorFlow buffer of `bytes` bytes (at least one, so it has an address).
Tensor scratch(OpKernelContext* context, size_t bytes) {
  Tensor t;
  const auto status =
      context->allocate_temp(DT_UINT8, TensorShape({static_cast<int64_t>(bytes ? bytes : 1)}), &t);
  if (!status.ok()) context->CtxFailure(status);
  return t;
}

// `user` in the layout the primitive wants: itself, or a reordered copy in `buffer`.
memory as_wanted(OpKernelContext* context, dnnl::stream& stream, const memory& user,
                 const memory::desc& wanted, Tensor* buffer) {
  if (user.get_desc() == wanted) return user;
  *buffer = scratch(context, wanted.get_size());
  memory copy(wanted, cpu_engine(), const_cast<char*>(buffer->tensor_data().data()));
  dnnl::reorder(user, copy).execute(stream, const_cast<memory&>(user), copy);
  return copy;
}

void set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

bool read_shape(OpKernelContext* context, bool lstm, Shape* s) {
  const Tensor& x = context->input(0);
  const Tensor& h0 = context->input(1);
  const Tensor& c0 = context->input(2);
  const Tensor& kernel = context->input(3);
  const Tensor& recurrent_kernel = context->input(4);
  const Tensor& bias = context->input(5);
  s->lstm = lstm;
  if (x.dims() != 3 || h0.dims() != 2) {
    context->CtxFailure(InvalidArgument("expected x [T, B, F] and h0 [B, H], received ",
                                        x.shape().DebugString(), " and ", h0.shape().DebugString()));
    return false;
  }
  s->steps = x.dim_size(0);
  s->batch = x.dim_size(1);
  s->features = x.dim_size(2);
  s->units = h0.dim_size(1);
  const int64_t gh = s->gates() * s->units;
  const bool ok = h0.dim_size(0) == s->batch && c0.dims() == 2 && c0.dim_size(0) == s->batch &&
                  c0.dim_size(1) == s->units && kernel.dims() == 2 &&
                  kernel.dim_size(0) == s->features && kernel.dim_size(1) == gh &&
                  recurrent_kernel.dims() == 2 && recurrent_kernel.dim_size(0) == s->units &&
                  recurrent_kernel.dim_size(1) == gh && bias.dims() == 1 &&
                  bias.dim_size(0) == s->bias_gates() * s->units;
  if (!ok) {
    context->CtxFailure(InvalidArgument(
        "shapes do not fit one ", lstm ? "LSTM" : "GRU", " layer: x ", x.shape().DebugString(),
        ", h0 ", h0.shape().DebugString(), ", c0 ", c0.shape().DebugString(), ", kernel ",
        kernel.shape().DebugString(), ", recurrent_kernel ",
        recurrent_kernel.shape().DebugString(), ", bias ", bias.shape().DebugString()));
    return false;
  }
  if (s->steps == 0 || s->batch == 0) {
    context->CtxFailure(InvalidArgument("the fused loop needs at least one step and one sequence"));
    return false;
  }
  return true;
}

class ForwardOp : public OpKernel {
 public:
  explicit ForwardOp(OpKernelConstruction* context) : OpKernel(context) {
    std::string cell;
    OP_REQUIRES_OK(context, context->GetAttr("cell", &cell));
    OP_REQUIRES_OK(context, context->GetAttr("training", &training_));
    OP_REQUIRES_OK(context, context->GetAttr("threads", &threads_));
    lstm_ = cell == "lstm";
  }

  void Compute(OpKernelContext* context) override {
    Shape s;
    if (!read_shape(context, lstm_, &s)) return;
    set_threads(threads_);
    const Primitives& p = primitives_for(s, training_);
    Tensor *y, *h_last, *c_last, *workspace;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({s.steps, s.batch, s.units}), &y));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({s.batch, s.units}), &h_last));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({s.batch, s.units}), &c_last));
    const size_t workspace_bytes = training_ ? p.forward_pd.workspace_desc().get_size() : 0;
    OP_REQUIRES_OK(context, context->allocate_output(
                                3, TensorShape({static_cast<int64_t>(workspace_bytes)}), &workspace));
    if (!lstm_) std::memset(data(*c_last), 0, sizeof(float) * s.batch * s.units);

    dnnl::stream stream(cpu_engine());
    const auto iter = plain(s.iter(), tag::ldnc);
    Tensor kernel_copy, recurrent_copy;
    memory kernel = as_wanted(context, stream, wrap(plain(s.weights_layer(), tag::ldigo), context->input(3)),
                              p.forward_pd.weights_layer_desc(), &kernel_copy);
    memory recurrent = as_wanted(context, stream, wrap(plain(s.weights_iter(), tag::ldigo), context->input(4)),
                                 p.forward_pd.weights_iter_desc(), &recurrent_copy);
    Tensor pad = scratch(context, p.forward_pd.scratchpad_desc().get_size());
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC_LAYER, wrap(plain(s.src_layer(), tag::tnc), context->input(0))},
        {DNNL_ARG_SRC_ITER, wrap(iter, context->input(1))},
        {DNNL_ARG_WEIGHTS_LAYER, kernel},
        {DNNL_ARG_WEIGHTS_ITER, recurrent},
        {DNNL_ARG_BIAS, wrap(plain(s.bias(), tag::ldgo), context->input(5))},
        {DNNL_ARG_DST_LAYER, wrap(plain(s.dst_layer(), tag::tnc), *y)},
        {DNNL_ARG_DST_ITER, wrap(iter, *h_last)},
        {DNNL_ARG_SCRATCHPAD, wrap(p.forward_pd.scratchpad_desc(), pad)},
    };
    if (lstm_) {
      args.insert({DNNL_ARG_SRC_ITER_C, wrap(iter, context->input(2))});
      args.insert({DNNL_ARG_DST_ITER_C, wrap(iter, *c_last)});
    }
    if (training_) args.insert({DNNL_ARG_WORKSPACE, wrap(p.forward_pd.workspace_desc(), *workspace)});
    if (!context->status().ok()) return;
    p.forward.execute(stream, args);
    stream.wait();
  }

 private:
  bool lstm_ = true;
  bool training_ = true;
  int threads_ = 0;
};

class BackwardOp : public OpKernel {
 public:
  explicit BackwardOp(OpKernelConstruction* context) : OpKernel(context) {
    std::string cell;
    OP_REQUIRES_OK(context, context->GetAttr("cell", &cell));
    OP_REQUIRES_OK(context, context->GetAttr("threads", &threads_));
    lstm_ = cell == "lstm";
  }

  void Compute(OpKernelContext* context) override {
    Shape s;
    if (!read_shape(context, lstm_, &s)) return;
    set_threads(threads_);
    const Primitives& p = primitives_for(s, /*training=*/true);
    const Tensor& workspace = context->input(9);
    OP_REQUIRES(context,
                static_cast<size_t>(workspace.NumElements()) == p.forward_pd.workspace_desc().get_size(),
                InvalidArgument("the workspace is not the forward training pass's of this shape (",
                                workspace.NumElements(), " bytes)"));
    Tensor *dx, *dh0, *dc0, *dkernel, *drecurrent, *dbias;
    OP_REQUIRES_OK(context, context->allocate_output(0, context->input(0).shape(), &dx));
    OP_REQUIRES_OK(context, context->allocate_output(1, context->input(1).shape(), &dh0));
    OP_REQUIRES_OK(context, context->allocate_output(2, context->input(2).shape(), &dc0));
    OP_REQUIRES_OK(context, context->allocate_output(3, context->input(3).shape(), &dkernel));
    OP_REQUIRES_OK(context, context->allocate_output(4, context->input(4).shape(), &drecurrent));
    OP_REQUIRES_OK(context, context->allocate_output(5, context->input(5).shape(), &dbias));
    if (!lstm_) std::memset(data(*dc0), 0, sizeof(float) * s.batch * s.units);

    dnnl::stream stream(cpu_engine());
    const auto& pd = p.backward_pd;
    const auto iter = plain(s.iter(), tag::ldnc);
    const auto bias = plain(s.bias(), tag::ldgo);
    const auto user_kernel = plain(s.weights_layer(), tag::ldigo);
    const auto user_recurrent = plain(s.weights_iter(), tag::ldigo);
    Tensor kernel_copy, recurrent_copy, dkernel_copy, drecurrent_copy;
    memory kernel = as_wanted(context, stream, wrap(user_kernel, context->input(3)),
                              pd.weights_layer_desc(), &kernel_copy);
    memory recurrent = as_wanted(context, stream, wrap(user_recurrent, context->input(4)),
                                 pd.weights_iter_desc(), &recurrent_copy);
    // The primitive adds its gradients into the weights' diffs: they start at zero.
    memory dkernel_user = wrap(user_kernel, *dkernel);
    memory drecurrent_user = wrap(user_recurrent, *drecurrent);
    memory dkernel_mem = dkernel_user, drecurrent_mem = drecurrent_user;
    if (pd.diff_weights_layer_desc() != user_kernel) {
      dkernel_copy = scratch(context, pd.diff_weights_layer_desc().get_size());
      dkernel_mem = memory(pd.diff_weights_layer_desc(), cpu_engine(),
                           const_cast<char*>(dkernel_copy.tensor_data().data()));
    }
    if (pd.diff_weights_iter_desc() != user_recurrent) {
      drecurrent_copy = scratch(context, pd.diff_weights_iter_desc().get_size());
      drecurrent_mem = memory(pd.diff_weights_iter_desc(), cpu_engine(),
                              const_cast<char*>(drecurrent_copy.tensor_data().data()));
    }
    std::memset(dkernel_mem.get_data_handle(), 0, pd.diff_weights_layer_desc().get_size());
    std::memset(drecurrent_mem.get_data_handle(), 0, pd.diff_weights_iter_desc().get_size());
    std::memset(data(*dbias), 0, sizeof(float) * dbias->NumElements());

    Tensor pad = scratch(context, pd.scratchpad_desc().get_size());
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC_LAYER, wrap(plain(s.src_layer(), tag::tnc), context->input(0))},
        {DNNL_ARG_SRC_ITER, wrap(iter, context->input(1))},
        {DNNL_ARG_WEIGHTS_LAYER, kernel},
        {DNNL_ARG_WEIGHTS_ITER, recurrent},
        {DNNL_ARG_BIAS, wrap(bias, context->input(5))},
        {DNNL_ARG_DST_LAYER, wrap(plain(s.dst_layer(), tag::tnc), context->input(6))},
        {DNNL_ARG_DST_ITER, wrap(iter, context->input(7))},
        {DNNL_ARG_WORKSPACE, wrap(p.forward_pd.workspace_desc(), workspace)},
        {DNNL_ARG_DIFF_DST_LAYER, wrap(plain(s.dst_layer(), tag::tnc), context->input(10))},
        {DNNL_ARG_DIFF_DST_ITER, wrap(iter, context->input(11))},
        {DNNL_ARG_DIFF_SRC_LAYER, wrap(plain(s.src_layer(), tag::tnc), *dx)},
        {DNNL_ARG_DIFF_SRC_ITER, wrap(iter, *dh0)},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, dkernel_mem},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, drecurrent_mem},
        {DNNL_ARG_DIFF_BIAS, wrap(bias, *dbias)},
        {DNNL_ARG_SCRATCHPAD, wrap(pd.scratchpad_desc(), pad)},
    };
    if (lstm_) {
      args.insert({DNNL_ARG_SRC_ITER_C, wrap(iter, context->input(2))});
      args.insert({DNNL_ARG_DST_ITER_C, wrap(iter, context->input(8))});
      args.insert({DNNL_ARG_DIFF_DST_ITER_C, wrap(iter, context->input(12))});
      args.insert({DNNL_ARG_DIFF_SRC_ITER_C, wrap(iter, *dc0)});
    }
    if (!context->status().ok()) return;
    p.backward.execute(stream, args);
    if (dkernel_mem.get_data_handle() != dkernel_user.get_data_handle()) {
      dnnl::reorder(dkernel_mem, dkernel_user).execute(stream, dkernel_mem, dkernel_user);
    }
    if (drecurrent_mem.get_data_handle() != drecurrent_user.get_data_handle()) {
      dnnl::reorder(drecurrent_mem, drecurrent_user).execute(stream, drecurrent_mem, drecurrent_user);
    }
    stream.wait();
  }

 private:
  bool lstm_ = true;
  int threads_ = 0;
};

}  // namespace

REGISTER_OP("RnnSuiteOnednnForward")
    .Input("x: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Output("y: float")
    .Output("h_last: float")
    .Output("c_last: float")
    .Output("workspace: uint8")
    .Attr("cell: {'lstm', 'gru'}")
    .Attr("training: bool")
    .Attr("threads: int = 0")
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

REGISTER_OP("RnnSuiteOnednnBackward")
    .Input("x: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Input("y: float")
    .Input("h_last: float")
    .Input("c_last: float")
    .Input("workspace: uint8")
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
    .SetShapeFn([](::tensorflow::shape_inference::InferenceContext* c) {
      for (int i = 0; i < 6; ++i) c->set_output(i, c->input(i));
      return ::tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("RnnSuiteOnednnForward").Device(::tensorflow::DEVICE_CPU), ForwardOp);
REGISTER_KERNEL_BUILDER(Name("RnnSuiteOnednnBackward").Device(::tensorflow::DEVICE_CPU), BackwardOp);
