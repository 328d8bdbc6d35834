"""keras-tuner's Hyperband, RandomSearch and BayesianOptimization, fitted to the apps' hyper-models.

The tuners are keras-tuner's own; a small mixin adds what `rnn-suite tune`
needs around them:
- each execution of a trial trains in its own run folder
  (`trial_<id>/execution<k>/`), named before the build;
- the search space is declared from data, without building a model (so a
  chief, which only runs the oracle, never loads data or builds models);
- `--time-limit`: no trial starts after the deadline;
- a worker that finds the chief busy (Hyperband waiting for a round to end)
  waits a moment before asking again, instead of asking in a tight loop;
- each trial may run in a fresh process (`tuning/trial_process.py`);
- random draws that spread (see `_spread_random_values`).
"""

import hashlib
import os
import time
import types
from pathlib import Path

import keras_tuner
from keras_tuner.src.distribute import utils as distribute_utils

from tuning.hypermodels import TrialRun
from tuning.registry import TUNERS
HYPERBAND_FACTOR = 3
IDLE_PAUSE_SECONDS = 1.0


class _AppTunerMixin:
    """What every tuner of `rnn-suite tune` adds to keras-tuner's (see the module docstring).

    Args:
        deadline: `time.time()` after which no trial starts, or None.
        on_trial_done: Called with the tuner after each trial ends, where the
            oracle is local (one machine): `tune` rewrites its reports there.
        trial_process: A `trial_process.TrialProcess` to run each trial in a
            fresh process, or None to run trials in this one.
    """

    def __init__(self, *args, deadline=None, on_trial_done=None, trial_process=None,
                 **kwargs):
        self.deadline = deadline
        self.on_trial_done = on_trial_done
        self.trial_process = trial_process
        self._execution = 0
        super().__init__(*args, **kwargs)
        if self._is_worker():
            self.oracle.create_trial = _pause_when_idle(self.oracle.create_trial)

    def _populate_initial_space(self):
        # keras-tuner builds the model here to discover conditional
        # hyperparameters; our spaces are declared as data and have none.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def pre_create_trial(self):
        if self.deadline and time.time() >= self.deadline and not self._is_worker():
            # The oracle answers "stopped" once it has max_trials trials.
            self.oracle.max_trials = len(self.oracle.trials)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        if self._is_worker():
            values = ", ".join(f"{k}={v}" for k, v in trial.hyperparameters.values.items())
            print(f"worker {self.tuner_id}: running trial {trial.trial_id} ({values})", flush=True)

    def run_trial(self, trial, *args, **kwargs):
        if self.trial_process is not None:
            return self.trial_process.run(self, trial)
        self._execution = 0
        return super().run_trial(trial, *args, **kwargs)

    def _build_and_fit_model(self, trial, *args, **kwargs):
        execution, self._execution = self._execution, self._execution + 1
        folder = os.path.join(self.get_trial_dir(trial.trial_id), f"execution{execution}")
        self.hypermodel.next_run = TrialRun(trial.trial_id, execution, Path(folder))
        return super()._build_and_fit_model(trial, *args, **kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self.on_trial_done and not self._is_worker():
            self.on_trial_done(self)


def _scrambled(seed):
    return int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:8], "big")


def _spread_random_values(oracle):
    """keras-tuner's `Oracle._random_values`, with each draw seeded by a hash of its seed.

    keras-tuner draws the k-th value from `random.Random(seed + k)`, and the
    first numbers of Python's Mersenne Twister are strongly correlated for
    seeds a fixed distance apart: with 8 hyperparameters, a setting is drawn
    from seeds 8 apart in every trial and barely moves (measured: `units`
    never above 64 and `dropout` always 0.2 in 6 trials of a random search).
    Hashing the seed keeps the search reproducible and the draws independent.
    """
    from keras_tuner.engine import hyperparameters as hp_module

    collisions = 0
    while True:
        hps = hp_module.HyperParameters()
        for hp in oracle.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):  # only active hyperparameters get values
                hps.values[hp.name] = hp.random_sample(_scrambled(oracle._seed_state))
                oracle._seed_state += 1
        if not oracle._duplicate(hps.values):
            return hps.values
        collisions += 1
        if collisions > oracle._max_collisions:
            return None


def _pause_when_idle(create_trial):
    def create(tuner_id):
        trial = create_trial(tuner_id)
        if trial.status == keras_tuner.engine.trial.TrialStatus.IDLE:
            time.sleep(IDLE_PAUSE_SECONDS)
        return trial
    return create


class AppHyperband(_AppTunerMixin, keras_tuner.Hyperband):
    """keras-tuner's Hyperband for an app's hyper-model."""


class AppRandomSearch(_AppTunerMixin, keras_tuner.RandomSearch):
    """keras-tuner's RandomSearch for an app's hyper-model."""


class AppBayesianOptimization(_AppTunerMixin, keras_tuner.BayesianOptimization):
    """keras-tuner's BayesianOptimization for an app's hyper-model."""


def make_tuner(kind, hypermodel, directory, project_name, max_trials=None, max_epochs=1,
               executions_per_trial=1, seed=None, overwrite=False, deadline=None,
               on_trial_done=None, trial_process=None):
    """The keras-tuner tuner `--tuner` names, around an app's hyper-model.

    Args:
        kind: "hyperband", "random" or "bayesian".
        hypermodel: An `AppHyperModel`; its objective and direction score trials.
        directory: The folder of the app's searches (`runs/tune/<app>`).
        project_name: The search's name; its folder is `directory/project_name`.
        max_trials: Trials at most (random and bayesian need it; Hyperband
            stops by itself and treats it as a cap).
        max_epochs: Epochs of a trial (Hyperband: of its longest trials).
        executions_per_trial: Models trained per trial (scores averaged).
        seed: The oracle's random seed.
        overwrite: Start afresh instead of resuming a search with this name.
        deadline: `time.time()` after which no trial starts, or None.
        on_trial_done: Called with the tuner after each trial (one machine).
        trial_process: A `trial_process.TrialProcess`, to train each trial in
            a fresh process (None: in this one).

    Returns:
        A keras-tuner `Tuner`, resumed from its folder unless `overwrite`.
    """
    tuner = _make(kind, hypermodel, directory, project_name, max_trials, max_epochs,
                  executions_per_trial, seed, overwrite, deadline, on_trial_done, trial_process)
    if isinstance(tuner.oracle, keras_tuner.Oracle):  # a worker's oracle is the chief's
        tuner.oracle._random_values = types.MethodType(_spread_random_values, tuner.oracle)
    return tuner


def _make(kind, hypermodel, directory, project_name, max_trials, max_epochs,
          executions_per_trial, seed, overwrite, deadline, on_trial_done, trial_process):
    objective = keras_tuner.Objective(hypermodel.objective, direction=hypermodel.direction)
    common = dict(hypermodel=hypermodel, objective=objective, seed=seed, directory=directory,
                  project_name=project_name, overwrite=overwrite,
                  executions_per_trial=executions_per_trial, deadline=deadline,
                  on_trial_done=on_trial_done, trial_process=trial_process)
    if kind == "hyperband":
        tuner = AppHyperband(max_epochs=max_epochs, factor=HYPERBAND_FACTOR, **common)
        if max_trials:
            tuner.oracle.max_trials = max_trials
        return tuner
    if kind == "random":
        return AppRandomSearch(max_trials=max_trials, **common)
    if kind == "bayesian":
        return AppBayesianOptimization(max_trials=max_trials, **common)
    raise ValueError(f"unknown tuner {kind!r}; expected one of {', '.join(TUNERS)}")


def is_worker():
    """Whether this process is a keras-tuner worker (the chief runs only the oracle)."""
    return distribute_utils.has_chief_oracle() and not distribute_utils.is_chief_oracle()
