"""Helpers for the export tests: run `rnn-suite <app> export`, then call the SavedModel elsewhere.

`call_in_fresh_process` loads an export with `tf.saved_model.load` in a new
Python process started in an empty folder, where this repository's packages
cannot be imported (so the SavedModel must stand alone, as TensorFlow Serving
sees it), calls its signatures, and returns their outputs. One process per call of the
helper: give it every input of a test at once.
"""

import base64
import io
import json
import os
import subprocess
import sys

import numpy as np

from apps import cli
from apps.common.quiet_tensorflow import import_tensorflow_quietly

_SCRIPT = r"""
import base64, json, sys
for name in ("apps", "layers", "tuning"):  # this repository's packages cannot be imported
    sys.modules[name] = None
import numpy as np
import tensorflow as tf
import tensorflow_text  # the SentencePiece ops of subword translation (TF Serving has them)

request = json.load(open(sys.argv[1]))
loaded = {path: tf.saved_model.load(path) for path in sorted(set(request["paths"].values()))}

def tensor(value):
    kind, values = value["kind"], value["values"]
    if kind == "bytes":
        return tf.constant([base64.b64decode(v) for v in values])
    if kind == "strings":
        return tf.constant([v.encode("utf-8") for v in values])
    return tf.constant(np.asarray(values, dtype=kind))

def plain(array):
    array = np.asarray(array)
    if array.dtype == object:
        return [v.decode("utf-8") for v in array.ravel()]
    return array.tolist()

results = {"signatures": {name: sorted(loaded[path].signatures.keys())
                          for name, path in request["paths"].items()}}
for name, call in request["calls"].items():
    function = loaded[request["paths"][call["export"]]].signatures[call["signature"]]
    outputs = function(**{k: tensor(v) for k, v in call["inputs"].items()})
    results[name] = {k: plain(v.numpy()) for k, v in outputs.items()}
json.dump(results, open(sys.argv[2], "w"))
"""


def strings(values):
    return {"kind": "strings", "values": list(values)}


def image_bytes(values):
    return {"kind": "bytes", "values": [base64.b64encode(v).decode("ascii") for v in values]}


def floats(array):
    return {"kind": "float32", "values": np.asarray(array, np.float32).tolist()}


def export(capsys, app, run, output, *flags):
    """`rnn-suite APP export --run RUN --output OUTPUT FLAGS`, in this process; returns stdout."""
    status = cli.main([app, "export", "--run", str(run), "--output", str(output),
                       *map(str, flags)])
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def predict(capsys, *argv):
    """`rnn-suite ARGV` (a predict command) in this process; returns the handler's results."""
    import_tensorflow_quietly()
    args = cli.build_parser().parse_args([str(a) for a in argv])
    results = args.handler(args)
    capsys.readouterr()
    return results


def call_in_fresh_process(exports, calls, work):
    """Load SavedModels in a new process and call their signatures there.

    Args:
        exports: {export name: SavedModel folder}.
        calls: {call name: (export name, signature, {input name: value})}, the
            values made by `strings`, `image_bytes` or `floats`.
        work: An empty folder for the process (its working folder).

    Returns:
        {call name: {output: list}, "signatures": {export name: [signature names]}};
        strings decoded, numbers as (nested) lists.
    """
    work.mkdir(parents=True, exist_ok=True)
    request, answer = work / "request.json", work / "answer.json"
    request.write_text(json.dumps({
        "paths": {name: str(path) for name, path in exports.items()},
        "calls": {name: {"export": export_name, "signature": signature, "inputs": inputs}
                  for name, (export_name, signature, inputs) in calls.items()}}))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(request), str(answer)], cwd=work,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(answer.read_text())


def write_images(folder, made):
    """Save `(name, PIL image)` pairs into a new `folder` (JPEG for .jpg, else PNG).

    Returns:
        `(path, bytes)` of each file, in order.
    """
    folder.mkdir()
    files = []
    for name, picture in made:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG" if name.endswith(".jpg") else "PNG")
        (folder / name).write_bytes(buffer.getvalue())
        files.append((folder / name, buffer.getvalue()))
    return files
