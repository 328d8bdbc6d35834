"""How this suite's processes start TensorFlow: the environment set before it is imported.

`rnn-suite`, a tuning trial's process, the benchmarks and the tests all call
`set_defaults()` first. A variable the user has set is kept, so
`TF_CPU_ALLOCATOR_USE_BFC=false rnn-suite ...` measures the other allocator.
"""

import os

DEFAULTS = {
    # TensorFlow's C++ INFO lines are noise for a command-line user; real errors still show.
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # TensorFlow's default CPU allocator hands every tensor to malloc, and glibc maps one
    # over 32 MB afresh and unmaps it when freed: a recurrent layer's activations over a
    # long sequence (pixel MNIST: 784 steps x 32 x 512 gates, 51 MB) were page-faulted and
    # zeroed by the kernel at every training step, a quarter of the pixel LSTM's CPU time.
    # TensorFlow's own BFC allocator (what it uses on a GPU) keeps freed memory in a pool:
    # the system time of that step went from 63 ms to under 1 (docs/performance.md).
    "TF_CPU_ALLOCATOR_USE_BFC": "true",
}


def set_defaults():
    """Set each of `DEFAULTS` the environment does not already set.

    Takes effect only before TensorFlow creates its CPU device (before its first
    op); call it before `import tensorflow`.
    """
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
