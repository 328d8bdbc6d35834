"""Running a search: the plan the command line gives, the hyper-model and tuner, and the results.

`SearchPlan` is everything a search needs, checked before TensorFlow is
imported; it travels as JSON to the process that runs each trial (see
`tuning/trial_process.py`). `run_search` runs the plan as one machine, as the
chief (the oracle only) or as a worker (trials only).
"""

import dataclasses
import time
from pathlib import Path

from apps.common.errors import UsageError
from tuning import distributed, registry
from tuning import space as space_module

RUNS_FOLDER = Path("runs") / "tune"
SUMMARY_TRIALS = 3


@dataclasses.dataclass
class SearchPlan:
    """Everything a search needs.

    Attributes:
        entry: The app's `registry.AppTuning`.
        base_config: The app's config with the search's fixed settings.
        space: {setting: `space.Dimension`}, defaults filled in.
        fixed: Settings outside the space that `--space` fixed.
        tuner: "hyperband", "random" or "bayesian".
        objective: The metric that scores a trial (a key of `entry.objectives`).
        max_trials: Trials at most (None: Hyperband decides).
        max_epochs: Epochs of a trial (Hyperband: of its longest).
        executions_per_trial: Models trained per trial.
        time_limit: Minutes after which no trial starts (0: none).
        name: The search's folder name under `runs/tune/<app>/`.
        overwrite: Start afresh instead of resuming.
        role: This process's `distributed.Role`.
        chief_wait: Seconds a worker waits for the chief.
        in_process: Train the trials inside this process instead of one
            fresh process per trial.
    """

    entry: registry.AppTuning
    base_config: object
    space: dict
    fixed: dict
    tuner: str
    objective: str
    max_trials: int
    max_epochs: int
    executions_per_trial: int
    time_limit: float
    name: str
    overwrite: bool
    role: distributed.Role
    chief_wait: float
    in_process: bool = False

    @property
    def direction(self):
        return self.entry.objectives[self.objective]

    @property
    def project(self):
        return RUNS_FOLDER / self.entry.name / self.name

    def to_json(self):
        """A JSON-ready dict (for the trial processes)."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values.update(entry=self.entry.name, base_config=self.base_config.to_dict(),
                      space={name: d.to_json() for name, d in self.space.items()},
                      role=dataclasses.asdict(self.role))
        return values

    @classmethod
    def from_json(cls, values):
        values = dict(values)
        entry = registry.APPS[values["entry"]]
        values.update(
            entry=entry, base_config=entry.config_class()(**values["base_config"]),
            space={name: space_module.Dimension(**{k: tuple(v) if isinstance(v, list) else v
                                                   for k, v in d.items()})
                   for name, d in values["space"].items()},
            role=distributed.Role(**values["role"]))
        return cls(**values)


def make_hypermodel(plan, deadline=None):
    """The app's hyper-model for this plan."""
    return plan.entry.hypermodel_class()(plan.base_config, plan.space, plan.objective,
                                         plan.direction, deadline=deadline)


def make_tuner(plan, hypermodel, deadline=None, on_trial_done=None, trial_process=None):
    """keras-tuner's tuner for this plan, resumed from its folder if there is one."""
    from tuning import tuners

    return tuners.make_tuner(
        plan.tuner, hypermodel, str(plan.project.parent), plan.name,
        max_trials=plan.max_trials, max_epochs=plan.max_epochs,
        executions_per_trial=plan.executions_per_trial, seed=plan.base_config.seed,
        deadline=deadline, on_trial_done=on_trial_done, trial_process=trial_process)


def run_search(plan):
    """Run the search the plan describes, as one machine, chief or worker; returns the tuner."""
    from tuning import reports, trial_process

    role = plan.role
    distributed.apply_role(role)
    deadline = time.time() + plan.time_limit * 60 if plan.time_limit else None
    trial_deadline = deadline if role.kind == "single" else None
    hypermodel = make_hypermodel(plan, trial_deadline)
    if role.kind == "worker":
        distributed.wait_for_chief(role, plan.chief_wait)
    elif role.kind == "chief":
        distributed.check_port_free(role.host, role.port)
    if role.kind != "chief":
        # Bad data fails once, here, not in every trial; and before the search's folder is made.
        _call(hypermodel.data, plan)
    if role.kind != "worker":
        reports.claim_project(plan.project, reports.search_identity(
            plan.entry.name, plan.tuner, hypermodel, plan.max_epochs, plan.executions_per_trial),
            overwrite=plan.overwrite)
    runner = (None if plan.in_process or role.kind == "chief"
              else trial_process.TrialProcess(plan, trial_deadline))
    tuner = make_tuner(plan, hypermodel, trial_deadline,
                       on_trial_done=lambda done: write_tables(done, hypermodel, plan),
                       trial_process=runner)
    if role.kind == "chief":
        tuner.save()
        distributed.serve(tuner.oracle, role, deadline)
    else:
        _call(tuner.search, plan)
    if role.kind == "worker":
        print(f"worker {role.tuner_id}: no trials left; the chief ({role.address}) writes the "
              "results", flush=True)
        return tuner
    finish(tuner, hypermodel, plan)
    return tuner


def _call(function, plan):
    """Run `function()`, turning what goes wrong inside a search into one-line errors."""
    from tuning.hypermodels import TrialUsageError

    try:
        return function()
    except TrialUsageError as error:
        raise UsageError(str(error)) from None
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise UsageError(f"the search stopped: {lines[0]} The last one ended with: {lines[-1]} "
                         f"(full messages in {plan.project}/trial_*/trial.json)") from None
    except Exception as error:
        import grpc

        if plan.role.kind == "worker" and isinstance(error, grpc.RpcError):
            raise distributed.lost_chief_error(plan.role, error) from None
        raise


def write_tables(tuner, hypermodel, plan):
    """Rewrite trials.csv and best.json from the oracle; returns the trial rows."""
    from tuning import reports

    rows = reports.trial_rows(tuner.oracle, list(plan.space), plan.objective)
    reports.write_trials_csv(rows, plan.project / reports.TRIALS_FILE)
    best = reports.best_trial(tuner.oracle)
    if best is not None:
        reports.write_best(hypermodel, best, plan.project / reports.BEST_FILE)
    return rows


def finish(tuner, hypermodel, plan):
    """The search's reports, keras-tuner's summary of the best trials, and what to run next."""
    from tuning import reports

    rows = write_tables(tuner, hypermodel, plan)
    reports.plot_search(rows, plan.space, plan.objective, plan.direction,
                        plan.project / reports.PLOT_FILE)
    tuner.results_summary(num_trials=SUMMARY_TRIALS)
    best = reports.best_trial(tuner.oracle)
    done = sum(1 for row in rows if row["status"] == "COMPLETED")
    print(f"\n{plan.entry.name}: {done} of {len(rows)} trials completed; "
          f"{reports.TRIALS_FILE} and {reports.PLOT_FILE} in {plan.project}", flush=True)
    if best is None:
        print("no trial finished with a score, so there is no best.json", flush=True)
        return
    best_file = plan.project / reports.BEST_FILE
    print(f"best: trial {best.trial_id}, {plan.objective} {best.score:.4f}; its settings are in "
          f"{best_file}", flush=True)
    if plan.base_config.limit:
        print(f"note: the search used --limit {plan.base_config.limit}; best.json leaves it "
              "out, so `train --config` trains on all the data", flush=True)
    print(f"next: rnn-suite {plan.entry.name} train --config {best_file}", flush=True)
