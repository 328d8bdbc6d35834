"""The process that runs one trial: `python -m tuning.trial_child REQUEST.json`.

`tuning.trial_process.TrialProcess` (the search's side) writes the request
and starts this; here the trial is rebuilt from it, run with keras-tuner's
own `run_trial`, and its results written beside the request.
"""

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

from apps.common import quiet_tensorflow, tensorflow_env
from tuning import trial_process

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent):
    """Ask Linux to kill this process when its parent dies; exit now if it already has."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the child outlives a killed parent
        return
    if os.getppid() != parent:
        sys.exit(1)


def main(argv=None):
    """The child: run one trial with keras-tuner's `run_trial`, write its results, exit."""
    argv = sys.argv[1:] if argv is None else argv
    request_path = Path(argv[0])
    request = json.loads(request_path.read_text())
    _die_with_parent(request["parent"])
    # Not a chief, not a worker: this process only trains, and must not load
    # or save the search's state (the parent owns it).
    for name in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        os.environ.pop(name, None)
    os.environ["KERASTUNER_TUNER_ID"] = trial_process.TUNER_ID
    tensorflow_env.set_defaults()
    # The same quiet start as the `rnn-suite` command (TensorFlow's start-up chatter held back).
    quiet_tensorflow.import_tensorflow_quietly()
    from apps.common.errors import UsageError
    from tuning import search
    from tuning.hypermodels import TrialUsageError

    import keras_tuner

    result_path = request_path.with_name(trial_process.RESULT_FILE)
    plan = search.SearchPlan.from_json(request["plan"])
    try:
        hypermodel = search.make_hypermodel(plan, request["deadline"])
        tuner = search.make_tuner(plan, hypermodel, request["deadline"])
        trial = keras_tuner.engine.trial.Trial.from_state(request["trial"])
        results = tuner.run_trial(trial)
    except (UsageError, TrialUsageError) as error:
        result_path.write_text(json.dumps({"usage_error": str(error)}))
        return 2
    result_path.write_text(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
