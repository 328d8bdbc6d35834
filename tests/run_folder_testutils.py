"""`backed_up_epochs`: what a run folder's backup counts as done (apps and tuning alike)."""

from pathlib import Path

from apps.common import run_dir, training


def backed_up_epochs(run):
    """Epochs the backup of the run folder `run` counts as done (what a resume starts after;
    0 while there is none, or while it is being written)."""
    return training.restored_epoch(run_dir.TrainingRun(Path(run), resumed=True))
