"""`backed_up_epochs`: what a run folder's backup counts as done (apps and tuning alike)."""

import json
from pathlib import Path


def backed_up_epochs(run):
    """Epochs the backup of the run folder `run` counts as done (what a resume starts after)."""
    try:
        return int(json.loads((Path(run) / "backup" / "training_metadata.json").read_text())
                   ["epoch"])
    except (OSError, ValueError, KeyError):  # none yet, or being written
        return 0
