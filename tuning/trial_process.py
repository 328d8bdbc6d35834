"""One fresh process per trial, so a search's memory does not grow from trial to trial.

TensorFlow 2.21 keeps part of every traced model's graphs alive after the
model is gone, `keras.backend.clear_session()` and `gc.collect()`
notwithstanding: measured here, 13 MB per built-and-fitted Keras GRU model
and 25-30 MB per trial of a tiny search. A process that exits gives all of
it back. The search process keeps the oracle (and talks to the chief); each
trial runs keras-tuner's own `run_trial` in a child:

    python -m tuning.trial_child REQUEST.json

The request (in the trial's folder) holds the search plan and the trial;
the child (`tuning/trial_child.py`) writes the trial's results beside it and
exits. It dies with its parent (Linux), so a killed worker leaves no trial
running behind it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REQUEST_FILE = "trial_request.json"
RESULT_FILE = "trial_result.json"
# keras-tuner id of a trial process: it never reloads or saves the search's state.
TUNER_ID = "trial-process"


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
        child = subprocess.Popen([sys.executable, "-m", "tuning.trial_child", str(request)])
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
