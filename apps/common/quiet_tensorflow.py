"""Import TensorFlow without its start-up chatter: what `rnn-suite`, a tuning trial's process
and the tests' child processes all do before their first TensorFlow call."""

import os
import sys


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up chatter on stderr held back.

    Its C++ logging prints INFO lines before TF_CPP_MIN_LOG_LEVEL is read;
    they are kept in a temporary file and shown only if the import fails.
    """
    if "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow

            # The first device query logs a cuInit error on machines without a GPU.
            tensorflow.config.list_physical_devices("GPU")
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
