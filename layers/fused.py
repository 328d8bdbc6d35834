"""The fused CPU loop of LSTM and GRU: two TensorFlow ops, compiled on first use.

`LSTM` and `GRU` (with `use_fused="auto"`, their default) hand the whole loop
over time to one C++ op forward and one backward (`layers/kernels/fused_rnn.cc`)
where the configuration allows it:

- the input matmul of every step is one matmul before the loop, and the input
  and weight gradients one matmul each after the backward loop;
- each step is one recurrent matmul (oneDNN's matmul primitive, its weights
  reordered once per call into its blocked layout) and the gates' arithmetic in
  one pass (Eigen's vectorised tanh and exp), with no per-op dispatch;
- the batch is split between the cores, each running its sequences' whole loop
  alone (a sequence's steps depend only on its own earlier steps), so nothing
  waits for another thread inside the loop.

The step-by-step loop stays the reference (tests compare outputs and gradients)
and the fallback. The op is compiled with the system's C++ compiler against the
installed TensorFlow (`tf.sysconfig`'s flags) and the oneDNN of the
`onednn-cpu-gomp` / `onednn-devel-cpu-gomp` wheels, once per TensorFlow
version, source and CPU, into `~/.cache/rnn-suite/kernels`
(`RNN_SUITE_KERNEL_CACHE` moves it; about 15 s). Without a compiler or oneDNN,
`library()` is None, `unavailable_reason()` says why, and the layers warn once
and run their own loop. `RNN_SUITE_DISABLE_FUSED=1` turns it off.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import warnings
from pathlib import Path

import tensorflow as tf

SOURCE = Path(__file__).parent / "kernels" / "fused_rnn.cc"

# How many parts the batch is split into (one thread each); 0: one per intra-op thread.
THREADS_VARIABLE = "RNN_SUITE_FUSED_THREADS"
DISABLE_VARIABLE = "RNN_SUITE_DISABLE_FUSED"

_lock = threading.Lock()
_state = {"library": None, "reason": None, "warned": False}


def _onednn_roots():
    """Environment roots that may hold the oneDNN wheels' lib/ and include/."""
    roots = [os.environ.get("RNN_SUITE_ONEDNN_ROOT"), sys.prefix,
             sysconfig.get_paths().get("data"), getattr(sys, "base_prefix", None)]
    return [Path(r) for r in dict.fromkeys(roots) if r]


def _find_onednn():
    for root in _onednn_roots():
        library = root / "lib" / "libdnnl.so.3"
        header = root / "include" / "oneapi" / "dnnl" / "dnnl.hpp"
        if library.exists() and header.exists():
            return root
    return None


def _cache_dir():
    base = os.environ.get("RNN_SUITE_KERNEL_CACHE") or Path.home() / ".cache" / "rnn-suite" / "kernels"
    return Path(base)


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        return ""


def cpu_multiplies_bfloat16():
    """Whether oneDNN has a bfloat16 matmul on this CPU (AVX512 core, or AVX-NE-CONVERT).

    Elsewhere the op's `bf16` matmuls run in float32: the same results as
    without `bf16`, at float32's speed.
    """
    flags = set(_cpu_flags().split())
    return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags or "avx_ne_convert" in flags


def _isa_flags(cpu_flags):
    """-march=native, less what TensorFlow's headers cannot be compiled with."""
    flags = ["-march=native"]
    # TensorFlow's copy of Eigen does not compile its AVX512-FP16 packet math
    # (PacketMathFP16.h: "expected initializer before '<'") under GCC 12, and
    # the op has no half-precision arithmetic to gain from it.
    if "avx512_fp16" in cpu_flags.split():
        flags.append("-mno-avx512fp16")
    return flags


def _build_command(root, output):
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise RuntimeError("no C++ compiler (g++ or c++, or $CXX) on PATH")
    return [
        compiler, "-shared", "-fPIC", "-O3", *_isa_flags(_cpu_flags()), "-w",
        *tf.sysconfig.get_compile_flags(), f"-I{root / 'include'}",
        str(SOURCE), "-o", str(output),
        *tf.sysconfig.get_link_flags(), f"-L{root / 'lib'}", "-l:libdnnl.so.3",
        f"-Wl,-rpath,{root / 'lib'}",
    ]


def _build(root):
    """The op library's path, compiled now unless this TensorFlow and source have one."""
    # -march=native: the library is this CPU's, so its flags are part of the key.
    key = hashlib.sha256(
        SOURCE.read_bytes() + tf.__version__.encode() + str(root).encode() + _cpu_flags().encode()
    ).hexdigest()[:16]
    target = _cache_dir() / f"fused_rnn-tf{tf.__version__}-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One process builds while the others (pytest's workers) wait for it; the
    # library is written under a temporary name and renamed into place, so a
    # killed build never leaves a half-written one.
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            partial = Path(work) / target.name
            done = subprocess.run(_build_command(root, partial), capture_output=True, text=True)
            if done.returncode != 0:
                lines = [line for line in done.stderr.splitlines() if "error" in line][:3]
                raise RuntimeError("compiling the fused op failed: "
                                   + " | ".join(lines or [done.stderr[-300:]]))
            os.replace(partial, target)
    return target


def library():
    """The loaded op library, building it on the first call; None where it cannot be."""
    with _lock:
        if _state["library"] is not None or _state["reason"] is not None:
            return _state["library"]
        try:
            if os.environ.get(DISABLE_VARIABLE):
                raise RuntimeError(f"{DISABLE_VARIABLE} is set")
            if not sys.platform.startswith("linux"):
                raise RuntimeError(f"the fused op is built for Linux only (this is {sys.platform})")
            root = _find_onednn()
            if root is None:
                raise RuntimeError(
                    "oneDNN (its matmuls) is not installed: pip install onednn-cpu-gomp "
                    "onednn-devel-cpu-gomp"
                )
            _state["library"] = tf.load_op_library(str(_build(root)))
        except (RuntimeError, OSError, tf.errors.NotFoundError) as error:
            _state["reason"] = str(error)
        return _state["library"]


def unavailable_reason():
    """Why `library()` is None (None when it is loaded or not yet tried)."""
    library()
    return _state["reason"]


def warn_unavailable_once():
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(
            "rnn-suite: the fused CPU loop of LSTM/GRU is not available "
            f"({_state['reason']}); the layers run their step-by-step loop (the same results, "
            "slower at inference). Pass use_fused=False to silence this.",
            RuntimeWarning,
            stacklevel=3,
        )


def threads():
    value = os.environ.get(THREADS_VARIABLE, "0")
    try:
        return max(0, int(value))
    except ValueError:
        raise ValueError(f"{THREADS_VARIABLE} must be a whole number of threads, received {value!r}")


_local = threading.local()


@contextlib.contextmanager
def step_loop_only(why="a SavedModel is written"):
    """Within it, the layers trace their step-by-step loop, never the fused op.

    For graphs that must run without this project's code: a SavedModel holding the
    custom op would not load where the op library is not built and loaded.
    `tf.saved_model.save` (and so `model.export`) is recognised without it; the
    apps' `export` wraps itself in it too, in case an endpoint was traced earlier.
    """
    before = getattr(_local, "why", None)
    _local.why = why
    try:
        yield
    finally:
        _local.why = before


def step_loop_reason():
    """Why ops traced now must not use the fused op (None when they may)."""
    from tensorflow.python.saved_model import save_context

    if getattr(_local, "why", None):
        return _local.why
    if save_context.in_save_context():
        return "a SavedModel is being written (it must load without this op)"
    return None


def in_xla_context():
    """Whether ops made now are compiled by XLA (which cannot run a custom op)."""
    from tensorflow.python.ops import control_flow_util

    graph = tf.compat.v1.get_default_graph()
    return bool(control_flow_util.GraphOrParentsInXlaContext(graph))


def fused_loop(cell, sequences, h0, c0, kernel, recurrent_kernel, bias, training, mask=None,
               bf16=False):
    """The whole loop of one layer: `(states [B, T, H], h_last, c_last)`.

    `cell` is "lstm" or "gru"; `bias` is Keras's, flat (LSTM [4H]; a reset_after
    GRU's [2, 3H] as [6H]); a GRU's `c0` is any [B, H] tensor and its `c_last`
    zeros. `mask` ([B, T] booleans, optional): a False step keeps the states, so
    `states` there repeats the step before (Keras's outputs at masked steps are
    the caller's: `masked_outputs`). With `training` the forward pass keeps the
    gates' activations for the backward pass; without it a gradient, if one is
    asked for, recomputes them. With `bf16` the per-step matmuls, forward and
    backward, multiply bfloat16 copies and accumulate in float32 (on a CPU that
    `cpu_multiplies_bfloat16`; elsewhere they stay float32); the tensors in and
    out, the gates and the states are float32 either way.
    """
    ops = library()
    time_major = tf.transpose(sequences, [1, 0, 2])
    mask_tm = tf.zeros([0]) if mask is None else tf.transpose(tf.cast(mask, tf.float32))
    y, h_last, c_last, _ = ops.rnn_suite_fused_forward(
        time_major, h0, c0, kernel, recurrent_kernel, bias, mask_tm,
        cell=cell, training=bool(training), threads=threads(), bf16=bool(bf16),
    )
    return tf.transpose(y, [1, 0, 2]), h_last, c_last


def masked_outputs(states, mask, zero_output_for_mask):
    """Keras's outputs from the fused loop's states ([B, T, H]) under `mask` [B, T].

    Keras's loop outputs, at a masked step, zeros (`zero_output_for_mask`) or the
    previous output: the last real step's h, which is the kept state, or zeros
    before a sequence's first real step (the loop's initial output).
    """
    keep = tf.cast(mask, states.dtype)
    if not zero_output_for_mask:
        keep = tf.cast(tf.math.cumsum(keep, axis=1) > 0, states.dtype)
    return states * keep[:, :, None]


def _forward_gradient(op, dy, dh_last, dc_last, _dkept):
    ops = library()
    cell, count, bf16 = op.get_attr("cell"), op.get_attr("threads"), op.get_attr("bf16")
    if isinstance(cell, bytes):
        cell = cell.decode()
    inputs = list(op.inputs)
    outputs = list(op.outputs)
    if not op.get_attr("training"):
        outputs = ops.rnn_suite_fused_forward(*inputs, cell=cell, training=True, threads=count,
                                              bf16=bf16)
    y, h_last, c_last, kept = outputs
    dy = tf.zeros_like(y) if dy is None else dy
    dh_last = tf.zeros_like(h_last) if dh_last is None else dh_last
    dc_last = tf.zeros_like(c_last) if dc_last is None else dc_last
    gradients = ops.rnn_suite_fused_backward(
        *inputs, y, h_last, c_last, kept, dy, dh_last, dc_last, cell=cell, threads=count,
        bf16=bf16,
    )
    return list(gradients) + [None]  # the mask has none


try:
    tf.RegisterGradient("RnnSuiteFusedForward")(_forward_gradient)
except KeyError:  # registered already (the module was reloaded)
    pass
