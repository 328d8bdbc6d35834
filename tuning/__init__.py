"""keras-tuner searches over every app's own model and training: `rnn-suite tune <app>`.

    registry.py       per app: search space (as data), objectives, flags, hyper-model
    space.py          search spaces as data; `--space` fixes and narrows them
    hypermodels.py    one keras-tuner HyperModel per app, calling the app's own code
    tuners.py         keras-tuner's Hyperband, RandomSearch, BayesianOptimization, fitted
    trial_process.py  one fresh process per trial, so memory stays flat (the search's side)
    trial_child.py    that process: runs one trial and writes its results
    distributed.py    keras-tuner's chief/worker mode: roles, the chief's server
    reports.py        trials.csv, best.json, search.png, search.json
    search.py         the search plan; running it as one machine, chief or worker
    cli.py            the `rnn-suite tune <app>` command
"""
