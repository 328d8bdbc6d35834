"""One fresh process per trial, so a search's memory does not grow from trial to trial.

TensorFlow 2.21 keeps part of every traced model's graphs alive after the
model is gone, `keras.backend.clear_session()` and `gc.collect()`
notwithstanding: measured here, 13 MB per built-and-fitted Keras GRU model
and 25-30 MB per trial of a tiny search. A process that exits gives all of
it back. The search process keeps the oracle (and talks to the chief); each
trial runs keras-tuner's own `run_trial` in a child:

    python -m tuning.trial_process REQUEST.json

The request (in the trial's folder) holds the search plan and the trial;
the child writes the trial's results beside it and exits. It dies with its
parent (Linux), so a killed worker leaves no trial running behind it.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

REQUEST_FILE = "trial_request.json"
RESULT_FILE = "trial_result.json"
# keras-tuner id of a trial process: it never reloads or saves the search's state.
TUNER_ID = "trial-process"
PR_SET_PDEATHSIG = 1


class TrialProcess:
    """Runs trials in child processes for the search process.

    Args:
        plan: The `search.SearchPlan`.
        deadline: `time.time()` at which a running trial stops, or None.
    """

    def __init__(self, plan, deadline=None):
        self.plan = plan
        self.deadline = deadline

    def run(self, tuner, trial):
        """Run `trial` in a fresh process; returns what keras-tuner's `run_trial` returned there.

        Raises:
            TrialUsageError: The trial met bad input (e.g. a data file).
            RuntimeError: The process failed otherwise (keras-tuner then
                counts the trial as failed and may retry it).
        """
        from tuning.hypermodels import TrialUsageError

        folder = Path(tuner.get_trial_dir(trial.trial_id))
        request, result = folder / REQUEST_FILE, folder / RESULT_FILE
        result.unlink(missing_ok=True)
        request.write_text(json.dumps({
            "plan": self.plan.to_json(), "trial": trial.get_state(), "deadline": self.deadline,
            "parent": os.getpid()}))
        child = subprocess.Popen([sys.executable, "-m", "tuning.trial_process", str(request)])
        try:
            status = child.wait()
        except BaseException:  # Ctrl-C or a kill: the trial resumes from its backup later
            child.kill()
            child.wait()
            raise
        outcome = json.loads(result.read_text()) if result.is_file() else {}
        if "usage_error" in outcome:
            raise TrialUsageError(outcome["usage_error"])
        if status != 0 or "results" not in outcome:
            raise RuntimeError(f"trial {trial.trial_id}: its process ended with status {status} "
                               "(its messages are above)")
        return outcome["results"]


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
    os.environ["KERASTUNER_TUNER_ID"] = TUNER_ID
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from apps import cli as apps_cli

    # The same quiet start as the `rnn-suite` command (TensorFlow's start-up chatter held back).
    apps_cli._import_tensorflow_quietly()
    from apps.common.errors import UsageError
    from tuning import search
    from tuning.hypermodels import TrialUsageError

    import keras_tuner

    result_path = request_path.with_name(RESULT_FILE)
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
