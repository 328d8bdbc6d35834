"""Shared pytest setup for the whole test tree, and how its tests are shared out between workers.

With `-n 2` (the addopts) the tests go out to two worker processes in units:

- every test file that reads one app's trained session run (`sentiment_run`,
  `translation_run`, ..., defined in that app's conftest.py) is in one unit with
  the others that read it, so the run is trained once, not once per worker
  (xdist's `loadfile` trained it in each worker that got one of those files);
- every other file is a unit of its own, so its module fixtures are built once.

Units go out longest first (the classic longest-processing-time rule: the short ones
fill the gaps at the end, so neither worker waits long for the other), by the seconds
`tests/durations.json` records for each file; a file it lacks counts as short.
`python -m pytest --record-durations` writes that file again from a whole run.
Which file reads which run is read from the sources: the controller process does not
collect tests, so it cannot ask the fixtures.
"""
import ast
import collections
import functools
import json
import os
from pathlib import Path

import pytest

from apps.common import tensorflow_env

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
# The rest of the environment the apps start TensorFlow in (pooled CPU memory), so the
# tests run what users run; a value already set is kept.
tensorflow_env.set_defaults()
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One worker per core: each worker's TensorFlow (and the processes its tests start)
    # runs its ops on one thread, instead of two workers' thread pools contending for
    # the same two cores (the translation tests: 184 s -> 177 s). Set before TensorFlow
    # is imported; a variable already set is kept.
    for _variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")

ROOT = Path(__file__).resolve().parent.parent
DURATIONS = ROOT / "tests" / "durations.json"
UNKNOWN_SECONDS = 2.0


def _session_fixtures(tree):
    """Names of the functions of a module's AST decorated `@pytest.fixture(scope="session")`."""
    names = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and any(
                    keyword.arg == "scope" and getattr(keyword.value, "value", None) == "session"
                    for keyword in decorator.keywords):
                names.add(node.name)
    return names


def _parameters(tree):
    """Every argument name of every function in a module's AST (tests and fixtures)."""
    return {argument.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            for argument in node.args.args}


@functools.lru_cache(maxsize=None)
def _tree(path):
    return ast.parse((ROOT / path).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _session_runs():
    """{session fixture name: its conftest's folder, relative to the repository}."""
    runs = {}
    for conftest in (ROOT / "tests").rglob("conftest.py"):
        relative = conftest.relative_to(ROOT)
        for name in _session_fixtures(_tree(str(relative))):
            runs[name] = relative.parent
    return runs


def _file_of(nodeid):
    return nodeid.split("::")[0]


@functools.lru_cache(maxsize=None)
def _unit_of_file(path):
    """The unit of the test file `path` (a repository-relative path)."""
    if not path.endswith(".py"):
        return path
    tree = _tree(path)
    used = sorted(name for name, folder in _session_runs().items()
                  if name in _parameters(tree) and Path(path).is_relative_to(folder))
    # The runs of one conftest (translation_run and translator) are one unit.
    return "runs of " + str(_session_runs()[used[0]]) if used else path


@functools.lru_cache(maxsize=None)
def _recorded_seconds():
    try:
        return json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _unit_seconds(items):
    """{unit: its files' recorded seconds, summed}."""
    files = {_file_of(item.nodeid) for item in items}
    seconds = collections.Counter()
    for path in files:
        seconds[_unit_of_file(path)] += _recorded_seconds().get(path, UNKNOWN_SECONDS)
    return seconds


def pytest_addoption(parser):
    parser.addoption("--record-durations", action="store_true",
                     help=f"record each test file's seconds (setup, call, teardown) in "
                          f"{DURATIONS.relative_to(ROOT)}, which orders the workers' files")


def pytest_collection_modifyitems(items):
    """Longest unit first; within a unit, files and tests keep their order (a stable sort)."""
    seconds = _unit_seconds(items)
    items.sort(key=lambda item: -seconds[_unit_of_file(_file_of(item.nodeid))])


_seconds_by_file = collections.Counter()


def pytest_runtest_logreport(report):
    _seconds_by_file[_file_of(report.nodeid)] += report.duration


def pytest_sessionfinish(session):
    # The controller (or a run without workers) sees every report; a worker writes nothing.
    if session.config.getoption("record_durations") and not hasattr(session.config,
                                                                     "workerinput"):
        recorded = dict(_recorded_seconds())  # a partial run updates only its own files
        recorded.update({path: round(seconds, 1) for path, seconds in _seconds_by_file.items()})
        DURATIONS.write_text(json.dumps(dict(sorted(recorded.items())), indent=1) + "\n",
                             encoding="utf-8")


# The app and tuning tests train and trace dozens of tiny models, and TensorFlow's graph
# optimizer (Grappler) rewrites every traced function before its first call: 10 of the
# 33 CPU-seconds of a tiny translation run. Its rewrites change how fast a graph runs, not
# what it computes, and a tiny run's few steps never earn that back, so those tests run
# with it off. The layer tests (values against the Keras oracle), the benchmarks, and
# every process a test starts (resume after kill -9, the demo commands, tuning trials in
# fresh processes) keep TensorFlow's default, so both paths stay tested.
WITHOUT_GRAPH_REWRITES = ("tests/apps/", "tests/tuning/")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Grappler off for an app or tuning test (its session fixtures are made in its setup)."""
    import tensorflow as tf

    rewrites_off = _file_of(item.nodeid).startswith(WITHOUT_GRAPH_REWRITES)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": rewrites_off})


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """For `--dist loadscope` (the addopts): xdist's scope scheduling, with the units above as
    its scopes. Any other `--dist` is xdist's own."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _unit_of_file(_file_of(nodeid))

    return SharedRunScheduling(config, log)
