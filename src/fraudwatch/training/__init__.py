"""Training: the time split with a label-delay gap, and the pipeline that makes a bundle.

Example::

    from fraudwatch.training import train_bundle
    bundle = train_bundle(data, created_at=datetime.now(UTC), model="lightgbm", seed=7)
    bundle.save("models/candidate")

See docs/models.md for the split policy and what the manifest records.
"""

from __future__ import annotations

from fraudwatch.training._pipeline import data_fingerprint, passthrough_columns, train_bundle
from fraudwatch.training._split import TimeSplit, time_split

__all__ = ["TimeSplit", "data_fingerprint", "passthrough_columns", "time_split", "train_bundle"]
