"""Type stubs of ``csrs.torch.losses``: the return type follows ``parts``
(the loss, a 0-d tensor, or its ``Parts``)."""

from typing import Literal, NamedTuple, Optional, Sequence, Union, overload

import numpy as np
import torch

from .._csrs import CostMatrix

CostLike = Union[CostMatrix, torch.Tensor, np.ndarray, Sequence[Sequence[float]]]

class Parts(NamedTuple):
    total: torch.Tensor
    classification: torch.Tensor
    robustness_sensitive: torch.Tensor
    robustness_normal: torch.Tensor

@overload
def gaussian(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: Literal[False] = False,
) -> torch.Tensor: ...
@overload
def gaussian(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: Literal[True],
) -> Parts: ...
@overload
def gaussian(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: bool,
) -> Union[torch.Tensor, Parts]: ...
@overload
def macer(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    beta: float,
    lam: float,
    gamma: float,
    cost: Optional[CostLike] = None,
    gamma_sensitive: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: Literal[False] = False,
) -> torch.Tensor: ...
@overload
def macer(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    beta: float,
    lam: float,
    gamma: float,
    cost: Optional[CostLike] = None,
    gamma_sensitive: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: Literal[True],
) -> Parts: ...
@overload
def macer(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    beta: float,
    lam: float,
    gamma: float,
    cost: Optional[CostLike] = None,
    gamma_sensitive: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: bool,
) -> Union[torch.Tensor, Parts]: ...
@overload
def smoothadv(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    epsilon: float,
    attack_steps: int,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: Literal[False] = False,
) -> torch.Tensor: ...
@overload
def smoothadv(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    epsilon: float,
    attack_steps: int,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: Literal[True],
) -> Parts: ...
@overload
def smoothadv(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    epsilon: float,
    attack_steps: int,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: bool,
) -> Union[torch.Tensor, Parts]: ...
@overload
def smoothmix(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    attack_steps: int,
    attack_step_size: float,
    mix_weight: float,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    mix: Optional[torch.Tensor] = None,
    parts: Literal[False] = False,
) -> torch.Tensor: ...
@overload
def smoothmix(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    attack_steps: int,
    attack_step_size: float,
    mix_weight: float,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    mix: Optional[torch.Tensor] = None,
    parts: Literal[True],
) -> Parts: ...
@overload
def smoothmix(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    noise_copies: int,
    attack_steps: int,
    attack_step_size: float,
    mix_weight: float,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    mix: Optional[torch.Tensor] = None,
    parts: bool,
) -> Union[torch.Tensor, Parts]: ...
