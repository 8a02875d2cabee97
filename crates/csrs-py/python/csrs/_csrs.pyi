"""Types of the native module (written by hand; the docstrings are the
module's own)."""

import os
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Path = Union[str, "os.PathLike[str]"]
Certificate = dict

def certify_counts(
    selection_counts: Sequence[int],
    estimation_counts: Sequence[int],
    *,
    label: int,
    cost_row: Optional[Sequence[float]] = None,
    sigma: float,
    alpha: float,
) -> Certificate: ...

def load_dataset(name: str, split: str, data_dir: Optional[Path] = None) -> Tuple[np.ndarray, np.ndarray]: ...

class CostMatrix:
    def __init__(self, array: Union[npt.ArrayLike, Sequence[Sequence[float]]], names: Optional[Sequence[str]] = None) -> None: ...
    @staticmethod
    def load(path: Path, num_classes: Optional[int] = None) -> "CostMatrix": ...
    def row(self, y: int) -> List[float]: ...
    def sensitive_set(self, y: int) -> List[int]: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def names(self) -> Optional[List[str]]: ...
    def tolist(self) -> List[List[float]]: ...
    def __len__(self) -> int: ...

class Smoothed:
    def __init__(
        self,
        classify: Callable[[np.ndarray], npt.ArrayLike],
        *,
        num_classes: int,
        sigma: float,
        noise: str = "gaussian",
        seed: int = 0,
        name: Optional[str] = None,
    ) -> None: ...
    @staticmethod
    def drawing_own_noise(model: object, *, num_classes: int, sigma: float, seed: int = 0, name: str) -> "Smoothed": ...
    def certify(
        self,
        x: npt.ArrayLike,
        label: int,
        *,
        n0: int,
        n: int,
        alpha: float,
        batch: int,
        cost_row: Optional[Sequence[float]] = None,
        target_radius: Optional[float] = None,
        radius_tolerance: Optional[float] = None,
        example: int = 0,
    ) -> Certificate: ...
    def predict(self, x: npt.ArrayLike, *, n: int, alpha: float, batch: int, example: int = 0) -> dict: ...
    def certify_dataset(
        self,
        inputs: npt.ArrayLike,
        labels: Union[Sequence[int], np.ndarray],
        *,
        out: Path,
        n0: int,
        n: int,
        alpha: float,
        batch: int,
        cost: Union[CostMatrix, Path, None] = None,
        target_radius: Optional[float] = None,
        radius_tolerance: Optional[float] = None,
        resume: bool = False,
        adopt_settings: bool = False,
        shard: Union[str, Tuple[int, int], None] = None,
        skip: int = 1,
        max: Optional[int] = None,
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> List[dict]: ...
    @property
    def num_classes(self) -> int: ...
    @property
    def sigma(self) -> float: ...
    @property
    def noise(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def name(self) -> str: ...

def read_records(path: Path, *, partial: bool = False) -> List[dict]: ...
def table_text(paths: List[str], *, radii: List[float], format: str = "markdown", labels: Optional[List[str]] = None, partial: bool = False) -> str: ...
def compare_text(paths: List[str], *, radii: List[float], format: str = "markdown", labels: Optional[List[str]] = None, partial: bool = False) -> str: ...
def plot(paths: List[str], out: str, *, labels: Optional[List[str]] = None, partial: bool = False, force: bool = False) -> None: ...
