"""Types of the compiled tree walk (``_treewalk.pyx``)."""

import numpy as np
import numpy.typing as npt

class Forest:
    n_trees: int
    n_nodes: int
    n_features: int
    def __init__(
        self,
        value: npt.NDArray[np.float64],
        right: npt.NDArray[np.int32],
        feature: npt.NDArray[np.uint16],
        flags: npt.NDArray[np.uint8],
        roots: npt.NDArray[np.int32],
        bits: npt.NDArray[np.uint32],
        cat_start: npt.NDArray[np.int32],
        cat_words: npt.NDArray[np.int32],
        n_features: int,
    ) -> None: ...
    def raw_score(self, x: npt.NDArray[np.float64]) -> float: ...
    def leaf_indices(self, x: npt.NDArray[np.float64], out: npt.NDArray[np.int32]) -> None: ...
