"""What every app shares: config, run directories, data lookup, training loop, plots.

Each module has one job; apps import the module they need (importing this
package imports nothing heavy, so `rnn-suite --help` stays fast).
"""
