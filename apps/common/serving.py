"""`rnn-suite <app> export`: a run's model as a TensorFlow SavedModel with raw-input signatures.

Every app exports the same way; only its signatures differ (each app's
`serving.py` gives them as `Endpoint`s). This module does the rest:

- resolve `--run` (a run folder, its `model.keras`, or the newest run) and
  the output folder (`--output`, default `<run>/export/`), refusing a file
  or a folder that is not empty before anything is loaded or written;
- load the model, track it in a `keras.export.ExportArchive`, add the
  endpoints (the first is `serving_default`, the one TensorFlow Serving
  calls when a request names none), write the SavedModel into a temporary
  folder next to the output and rename it into place, so a failed export
  leaves nothing behind;
- print the signatures (inputs and outputs, dtypes, shapes) and how to serve it.

A SavedModel needs none of this project's code to run: `tf.saved_model.load`
or TensorFlow Serving's Docker image read it as it is.
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from apps.common import run_dir as run_dir_module
from apps.common import trained_run
from apps.common.errors import UsageError

EXPORT_FOLDER = "export"
DEFAULT_SIGNATURE = "serving_default"


@dataclass
class Endpoint:
    """One signature of the SavedModel.

    Attributes:
        name: The signature's name (the first endpoint also becomes
            `serving_default`, unless one is called that).
        fn: A function of TensorFlow tensors (traced once, without autograph:
            loops and branches must be TensorFlow ops); its argument names
            are the signature's input names, and it returns a dict of
            tensors (the named outputs).
        input_signature: One `tf.TensorSpec` per argument of `fn`.
    """

    name: str
    fn: object
    input_signature: list


def output_folder(model_path, output):
    """The folder `export` writes (`--output`, else `<run>/export/`), checked before any work.

    Raises:
        UsageError: If it is a file, or a folder that is not empty (an
            export never mixes with or replaces earlier files).
    """
    path = Path(output) if output else Path(model_path).parent / EXPORT_FOLDER
    flag = f"--output {path}" if output else f"the export folder {path}"
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} is a file (expected a new or empty folder for the SavedModel)")
    if path.is_dir() and any(path.iterdir()):
        raise UsageError(f"{flag} is not empty (it holds an earlier export?); choose a new "
                         "folder with --output, or delete it first")
    return path


def export_run(app, run, output, endpoints):
    """Export a run's model as a SavedModel; returns {"path", "signatures"}.

    Args:
        app: The app's name (for `--run latest` and messages).
        run: The `--run` flag.
        output: The `--output` flag (None: `<run>/export/`).
        endpoints: `endpoints(model, model_path)` -> a list of `Endpoint`s.

    Raises:
        UsageError: For a run without a model, a model that cannot be loaded,
            or an output folder that cannot be used. Nothing is written then.
    """
    model_path = run_dir_module.find_model(app, run)
    out = output_folder(model_path, output)
    model = trained_run.load_model(app, model_path)
    import keras

    from layers import fused

    # The SavedModel runs without this project's code: no custom op in its graphs.
    with fused.step_loop_only():
        archive = keras.export.ExportArchive()
        archive.track(model)
        functions = {}
        for endpoint in endpoints(model, model_path):
            functions[endpoint.name] = archive.add_endpoint(endpoint.name, endpoint.fn,
                                                            endpoint.input_signature)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            archive.write_out(str(partial), verbose=False)
            if out.is_dir():
                out.rmdir()  # empty (checked above)
            partial.rename(out)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        signatures = describe(functions)
    print(f"{app}: SavedModel of {model_path} written to {out}", flush=True)
    for name, text in signatures.items():
        print(f"  signature {name}: {text}", flush=True)
    print(f"serve it: docker run -p 8501:8501 -v {out.resolve()}:/models/{app}/1 "
          f"-e MODEL_NAME={app} tensorflow/serving (the folder is version 1 of model "
          f"'{app}'; see docs/serving.md)", flush=True)
    return {"path": str(out), "signatures": signatures}


def words_before_end(tokens, vocabulary):
    """Searched token ids [B, T] -> the words before the end token (or padding), space-joined [B].

    The graph twin of `teacher_forcing.tokens_to_words` followed by `" ".join`.

    Args:
        tokens: int [B, T] ids, as `decoding.greedy_search` gives them.
        vocabulary: string [V], the target vectoriser's vocabulary.
    """
    import tensorflow as tf

    from apps.common.teacher_forcing import END_ID

    ids = tf.cast(tokens, tf.int32)
    going = tf.logical_and(tf.not_equal(ids, END_ID), tf.not_equal(ids, 0))
    kept = tf.cast(tf.math.cumprod(tf.cast(going, tf.int32), axis=1), tf.bool)
    words = tf.ragged.boolean_mask(tf.gather(vocabulary, ids), kept)
    return tf.strings.reduce_join(words, axis=1, separator=" ")


def describe(functions):
    """Each signature as text: name -> "input (dtype [shape]) -> output (dtype [shape]), ...".

    Args:
        functions: Signature name -> its `tf.function` (with an input signature).
    """
    import inspect

    described = {}
    for name, function in functions.items():
        concrete = function.get_concrete_function()  # traced already: no new trace
        names = list(inspect.signature(function.python_function).parameters)
        inputs = ", ".join(f"{n} ({spec.dtype.name} {_shape(spec.shape)})"
                           for n, spec in zip(names, function.input_signature))
        outputs = ", ".join(f"{n} ({t.dtype.name} {_shape(t.shape)})"
                            for n, t in sorted(concrete.structured_outputs.items()))
        described[name] = f"{inputs} -> {outputs}"
    first = next(iter(described), None)
    if first is not None and DEFAULT_SIGNATURE not in described:
        described = {DEFAULT_SIGNATURE: f"{described[first]} (the same as {first})",
                     **described}
    return described


def _shape(shape):
    return "[" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + "]"
