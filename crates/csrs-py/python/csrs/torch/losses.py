"""The objectives of ``csrs train`` as PyTorch losses, for a model trained in
your own PyTorch loop and certified with csrs afterwards.

Each function is the objective of one ``csrs train`` method, computed as
csrs-train computes it: the same noisy copies (each image repeated once per
copy, the copies of an image next to each other, x + δ), the same attacks,
the same clamps (1e-10 inside MACER's logarithm, 1e-20 inside the attacks'
and SmoothMix's), the same masks and the same division by the batch size. A
model trained with them is trained for what ``csrs certify`` certifies, and
``scripts/torch_losses_check.sh`` checks values and gradients against those
of csrs-train on shared weights and noise.

- ``gaussian``: Gaussian augmentation (Cohen et al. 2019), and with a cost
  matrix the reweighting baseline that counts sensitive examples 1 + w times.
- ``macer``: MACER (Zhai et al. 2020), and with a cost matrix the paper's
  cost-sensitive MACER objective ("Provably Cost-Sensitive Adversarial
  Defense via Randomized Smoothing", Xin et al., ICML 2025).
- ``smoothadv``: SmoothAdv (Salman et al. 2019), PGD on the soft smoothed
  classifier, then Gaussian augmentation on the adversarial images.
- ``smoothmix``: SmoothMix (Jeong et al. 2021), an unbounded attack and a
  mixup between each image and its adversarial point.

An example is sensitive when its class y has a harmful mistake, its set
Ω_y = {k : C[y][k] > 0} not empty (a seed class of the cost matrix C).
Each takes a ``cost`` for its cost-sensitive form (the ``-cs`` methods),
together with that form's own number (``weight``, or ``gamma_sensitive``
for MACER); one without the other is refused. As in ``csrs train``, no
number that decides the result has a default.

``model`` maps a batch of images, pixels in [0, 1] (the normalisation inside
the model, as in a csrs network), to logits ``(B, m)``; ``x`` is ``(b, C, H,
W)``, ``y`` the ``b`` classes. Each returns the loss to minimise, a 0-d
tensor; ``parts=True`` returns a ``Parts`` with the terms the training log of
``csrs train`` shows. The noise is Gaussian, N(0, σ²) per pixel, drawn with
torch on ``x``'s device unless given (``noise``, already multiplied by σ);
``csrs train``'s ``noise = "sound"`` is not provided. The attacks run inside
the call, differentiating with respect to the image only: they leave no
``.grad`` on the parameters, and the adversarial images are constants of the
loss. The model is used in the mode it is in (``train()`` or ``eval()``);
its forward passes in the attack count for batch-norm statistics, as they do
in ``csrs train``. ``csrs train``'s ``warmup_epochs`` is not a parameter
here: pass the ε or η of the epoch.

Needs ``torch`` (not a dependency of the package).
"""

import math
import numbers
from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from .._csrs import CostMatrix

#: A cost matrix: csrs's own, or any (m, m) array of costs.
CostLike = Union[CostMatrix, torch.Tensor, np.ndarray, Sequence[Sequence[float]]]


class Parts(NamedTuple):
    """A loss and its terms, each a 0-d tensor already divided by the batch
    size: the columns of ``csrs train``'s training log."""

    #: What the optimiser minimises: the sum of the three others.
    total: torch.Tensor
    #: The classification term (cross-entropy, of the smoothed classifier
    #: for MACER).
    classification: torch.Tensor
    #: The term of sensitive examples: cost-sensitive MACER's hinge, or the
    #: extra w · cross-entropy of the reweighted methods (0 in the standard
    #: forms).
    robustness_sensitive: torch.Tensor
    #: The robustness term of the other examples (of every example for the
    #: standard forms): MACER's hinge, SmoothMix's consistency term; 0 for
    #: Gaussian augmentation and SmoothAdv.
    robustness_normal: torch.Tensor


# Arguments.


def _shown(value: Any) -> str:
    """``value``'s repr as a message repeats it: 40 characters at most."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _real(name: str, value: Any, *, positive: bool) -> float:
    """A finite number, > 0 (``positive``) or >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} is {type(value).__name__}, expected a number")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{name} {_shown(value)}, expected a finite number {'>' if positive else '>='} 0")
    return number


def _count(name: str, value: Any) -> int:
    """An integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} is {type(value).__name__}, expected an integer")
    if value < 1:
        raise ValueError(f"{name} {value}, expected an integer >= 1")
    return int(value)


def _module(model: Any) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model is {type(model).__name__}, expected a torch.nn.Module")
    return model


def _images(x: Any) -> torch.Tensor:
    """``x``: a floating tensor of at least one image, ``(b, *image_shape)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x is {type(x).__name__}, expected a torch.Tensor of images (b, C, H, W)")
    if not x.is_floating_point():
        raise TypeError(f"x has dtype {x.dtype}, expected a floating dtype (pixels in [0, 1])")
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}, expected a batch of at least one image (b, C, H, W)")
    return x.detach()


def _labels(y: Any, x: torch.Tensor) -> torch.Tensor:
    """``y``: one class >= 0 per image of ``x``, as int64 on its device."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y is {type(y).__name__}, expected an integer torch.Tensor of classes (b,)")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"y has dtype {y.dtype}, expected an integer dtype (classes)")
    if tuple(y.shape) != (x.shape[0],):
        raise ValueError(f"y has shape {tuple(y.shape)}, expected ({x.shape[0]},): one class per image of x")
    y = y.detach().to(x.device, torch.int64)
    smallest = int(y.min())
    if smallest < 0:
        raise ValueError(f"y has class {smallest}, expected classes >= 0")
    return y


def _cost_sensitive(cost: Any, number: Optional[Any], name: str) -> bool:
    """Whether the cost-sensitive form is asked for: ``cost`` and its
    number both given (neither: the standard form)."""
    if (cost is None) != (number is None):
        given, missing = ("cost", name) if cost is not None else (name, "cost")
        raise ValueError(
            f"{given} given without {missing}:"
            f" the cost-sensitive form takes both cost and {name}, the standard form neither"
        )
    return cost is not None


def _cost(cost: Any) -> np.ndarray:
    """The cost matrix as a float64 array, checked as csrs checks one:
    square, at least 2 classes, costs finite and >= 0, zero diagonal."""
    if isinstance(cost, CostMatrix):
        values = np.asarray(cost.tolist(), dtype=np.float64)
    else:
        if isinstance(cost, torch.Tensor):
            cost = cost.detach().cpu().to(torch.float64).numpy()
        try:
            values = np.asarray(cost, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"cost is {type(cost).__name__}, expected a csrs.CostMatrix or an (m, m) tensor, array or nested lists"
            ) from None
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] < 2:
        raise ValueError(f"cost has shape {values.shape}, expected (m, m) with m >= 2: one row and column per class")
    for what, bad in (("a finite cost", ~np.isfinite(values)), ("a cost >= 0", values < 0)):
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"cost[{row}][{col}] is {values[row, col]}, expected {what}")
    diagonal = np.flatnonzero(np.diag(values))
    if diagonal.size:
        k = int(diagonal[0])
        raise ValueError(f"cost[{k}][{k}] is {values[k, k]}, expected 0 (no cost for the true class)")
    return values


def _classes_below(y: torch.Tensor, m: int, what: str) -> None:
    largest = int(y.max())
    if largest >= m:
        raise ValueError(f"y has class {largest}, expected classes below {m} ({what})")


class _Sets(NamedTuple):
    """Which examples of a batch are sensitive, and against which classes
    (csrs-train's SensitiveSets)."""

    #: Ω_y of each example, ``(b, m)``.
    harmful: torch.Tensor
    #: Whether Ω_y is not empty, ``(b,)``.
    sensitive: torch.Tensor
    #: Whether Ω_y is every other class (a seedwise row), ``(b,)``.
    seedwise: torch.Tensor


def _sets(costs: np.ndarray, y: torch.Tensor) -> _Sets:
    rows = torch.from_numpy(costs > 0).to(y.device)[y]
    m = costs.shape[0]
    return _Sets(harmful=rows, sensitive=rows.any(dim=1), seedwise=rows.sum(dim=1) == m - 1)


def _noise(noise: Any, x: torch.Tensor, copies: int, sigma: float, *, one_copy: bool = False) -> torch.Tensor:
    """The noise δ of ``copies`` copies of each image, ``(b · copies,
    *image_shape)`` grouped by image: ``noise`` as given, or N(0, σ²)."""
    b, shape = x.shape[0], tuple(x.shape[1:])
    if noise is None:
        return torch.randn((b * copies,) + shape, device=x.device, dtype=x.dtype) * sigma
    if not isinstance(noise, torch.Tensor):
        try:
            noise = torch.as_tensor(np.asarray(noise, dtype=np.float32))
        except (TypeError, ValueError):
            raise TypeError(f"noise is {type(noise).__name__}, expected a torch.Tensor") from None
    expected = (b, copies) + shape
    if one_copy and tuple(noise.shape) == (b,) + shape:
        noise = noise.unsqueeze(1)
    if tuple(noise.shape) != expected:
        also = f" or {(b,) + shape}" if one_copy else " (b, noise_copies, *x.shape[1:])"
        raise ValueError(f"noise has shape {tuple(noise.shape)}, expected {expected}{also}")
    return noise.to(x.device, x.dtype).reshape((b * copies,) + shape)


def _mix(mix: Any, x: torch.Tensor) -> torch.Tensor:
    """SmoothMix's share λ of the way to each adversarial point, ``(b,)``:
    ``mix`` as given (each in [0, 1]), or U(0, ½)."""
    b = x.shape[0]
    if mix is None:
        return torch.rand(b, device=x.device, dtype=x.dtype) * 0.5
    if not isinstance(mix, torch.Tensor):
        try:
            mix = torch.as_tensor(np.asarray(mix, dtype=np.float32))
        except (TypeError, ValueError):
            raise TypeError(f"mix is {type(mix).__name__}, expected a torch.Tensor") from None
    if tuple(mix.shape) != (b,):
        raise ValueError(f"mix has shape {tuple(mix.shape)}, expected ({b},): one share per image of x")
    mix = mix.detach().to(x.device, x.dtype)
    if not bool(((mix >= 0) & (mix <= 1)).all()):
        raise ValueError("mix has a value outside [0, 1], expected shares of the way to the adversarial point")
    return mix


class _Forward:
    """The model on the noisy copies of a batch: logits ``(b, copies, m)``,
    checked at the first call against the labels and the cost matrix."""

    def __init__(self, model: torch.nn.Module, y: torch.Tensor, delta: torch.Tensor, costs: Optional[np.ndarray]):
        self.model, self.y, self.delta, self.costs = model, y, delta, costs
        self.b = y.shape[0]
        self.copies = delta.shape[0] // self.b
        self.m: Optional[int] = None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        b, copies = self.b, self.copies
        repeated = images.unsqueeze(1).expand((b, copies) + tuple(images.shape[1:]))
        logits = self.model(repeated.reshape(self.delta.shape) + self.delta)
        if self.m is None:
            rows = b * copies
            if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != rows:
                shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise ValueError(
                    f"the model gives logits of shape {shape}, expected ({rows}, m): one row per noisy copy"
                )
            m = logits.shape[1]
            if self.costs is not None and self.costs.shape[0] != m:
                n = self.costs.shape[0]
                raise ValueError(f"cost is {n}x{n}, expected {m}x{m}: one row and column per logit of the model")
            _classes_below(self.y, m, "the model's number of logits")
            self.m = m
        return logits.reshape(b, copies, -1)


# The objectives' pieces (crates/csrs-train/src/loss.rs).


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """−log softmax(logits)_y per example: ``(n, m)``, ``(n,)`` → ``(n,)``."""
    return -F.log_softmax(logits, dim=1).gather(1, y.unsqueeze(1)).squeeze(1)


def _zero(like: torch.Tensor) -> torch.Tensor:
    return torch.zeros((), device=like.device, dtype=like.dtype)


def _reweighted(each: torch.Tensor, sensitive: torch.Tensor, weight: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Σ CE / batch, and the extra w · Σ_{sensitive} CE / batch."""
    batch = each.shape[0]
    classification = each.sum() / batch
    extra = (each * sensitive.to(each.dtype)).sum() * (weight / batch)
    return classification, extra


def _augmentation(logits: torch.Tensor, y: torch.Tensor, reweight: Optional[Tuple[_Sets, float]]) -> Parts:
    """Gaussian augmentation's loss on logits ``(n, m)``: the mean
    cross-entropy, or the reweighted sum."""
    each = _cross_entropy(logits, y)
    if reweight is None:
        classification = each.mean()
        return Parts(classification, classification, _zero(classification), _zero(classification))
    sets, weight = reweight
    classification, extra = _reweighted(each, sets.sensitive, weight)
    return Parts(classification + extra, classification, extra, _zero(classification))


def _soft_smoothed(logits: torch.Tensor, beta: float) -> torch.Tensor:
    """mean_j softmax(β · logits_j): ``(b, k, m)`` → ``(b, m)``."""
    return F.softmax(logits * beta, dim=2).mean(dim=1)


def _safe_icdf(p: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Φ⁻¹(p) where p is in (0, 1), and whether it was, as csrs-train
    computes it: the placeholder ½ keeps NaN out of the gradients of the
    margins that are skipped, and p is taken as at least 1e-30, whose
    Φ⁻¹ is about −11.5. Below that (a runner-up of probability 1e-44 is
    no rarity at β = 16), 1/φ(Φ⁻¹(p)), the derivative, overflows float32,
    and a masked margin's infinite gradient times its mask of 0 is NaN."""
    inside = (p > 0) & (p < 1)
    q = torch.where(inside, p, torch.full_like(p, 0.5))
    fixed = q.detach()
    root = torch.special.ndtri(fixed.clamp(min=1e-30))
    density = torch.exp(-0.5 * root * root) / math.sqrt(2.0 * math.pi)
    # The value is the root; the gradient in p is exactly 1/φ(root).
    return root + (q - fixed) / density, inside


def _hinge_sum(margin: torch.Tensor, mask: torch.Tensor, sigma: float, gamma: float) -> torch.Tensor:
    """Σ (σ/2)(γ − margin) over the examples selected by ``mask``."""
    return ((gamma - margin) * (sigma / 2.0) * mask.to(margin.dtype)).sum()


def _macer_margin(p_beta: torch.Tensor, y: torch.Tensor, gamma: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Φ⁻¹(top) − Φ⁻¹(runner-up), and whether the example takes MACER's
    hinge: its top class is y and the margin is in (0, γ)."""
    top2, indices = p_beta.topk(2, dim=1)
    correct = indices[:, 0] == y
    z1, ok1 = _safe_icdf(top2[:, 0])
    z2, ok2 = _safe_icdf(top2[:, 1])
    margin = z1 - z2
    return margin, correct & ok1 & ok2 & (margin > 0) & (margin < gamma)


def _smoothed_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ −log(p̂_y + 1e-10) over the batch, p̂ = mean_j softmax(logits_j)."""
    p = _soft_smoothed(logits, 1.0)
    return -(p.gather(1, y.unsqueeze(1)) + 1e-10).log().sum()


def _l2_norms(images: torch.Tensor) -> torch.Tensor:
    """The ℓ₂ norm of each image, ``(b, 1, …, 1)``."""
    b = images.shape[0]
    return images.pow(2).reshape(b, -1).sum(dim=1).sqrt().reshape((b,) + (1,) * (images.dim() - 1))


def _attack(
    forward: _Forward, x: torch.Tensor, y: torch.Tensor, steps: int, step_size: float, max_norm: Optional[float]
) -> torch.Tensor:
    """csrs-train's ℓ₂ attack on the soft smoothed classifier G(x) =
    mean_j softmax(f(x + δ_j)) with the batch's noise: ``steps`` steps of
    ``step_size`` along grad / (‖grad‖ + 1e-12) of −Σ log max(G(x)_y,
    1e-20), each projected back into the ball of radius ``max_norm`` around
    ``x`` (``None``: unbounded), then into [0, 1]. Differentiates with
    respect to the image alone; the result is detached."""
    clean = x.detach()
    adversarial = clean
    with torch.enable_grad():
        for _ in range(steps):
            point = adversarial.detach().requires_grad_(True)
            smoothed = F.softmax(forward(point), dim=2).mean(dim=1)
            loss = -smoothed.gather(1, y.unsqueeze(1)).clamp_min(1e-20).log().sum()
            (gradient,) = torch.autograd.grad(loss, point, allow_unused=True)
            if gradient is None:
                break
            direction = gradient / (_l2_norms(gradient) + 1e-12)
            moved = adversarial + direction * step_size
            if max_norm is not None:
                delta = moved - clean
                scale = ((_l2_norms(delta) + 1e-12).reciprocal() * max_norm).clamp_max(1.0)
                moved = clean + delta * scale
            adversarial = moved.clamp(0.0, 1.0).detach()
    return adversarial


# The objectives.


def gaussian(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float,
    cost: Optional[CostLike] = None,
    weight: Optional[float] = None,
    noise: Optional[torch.Tensor] = None,
    parts: bool = False,
) -> Union[torch.Tensor, Parts]:
    """Gaussian augmentation (Cohen et al. 2019), ``method = "gaussian"``:
    the mean over the batch of the cross-entropy of the model on one noisy
    copy x + δ of each image, δ ~ N(0, σ²I).

    With ``cost`` and ``weight`` (gaussian-cs, ``cost_sensitive.weight``):
    the reweighting baseline, (Σ CE + w · Σ over sensitive examples CE) / b,
    each sensitive example counting 1 + w times; ``robustness_sensitive`` is
    the extra w · Σ CE / b.

    ``sigma``: the noise level σ (the configuration's ``sigma``). ``noise``:
    δ itself, ``(b, C, H, W)`` or ``(b, 1, C, H, W)``.
    """
    model = _module(model)
    sigma = _real("sigma", sigma, positive=True)
    reweight = _cost_sensitive(cost, weight, "weight")
    w = _real("weight", weight, positive=False) if reweight else 0.0
    x = _images(x)
    y = _labels(y, x)
    costs = _cost(cost) if reweight else None
    if costs is not None:
        _classes_below(y, costs.shape[0], "the cost matrix's size")
    forward = _Forward(model, y, _noise(noise, x, 1, sigma, one_copy=True), costs)
    logits = forward(x).reshape(x.shape[0], -1)
    result = _augmentation(logits, y, (_sets(costs, y), w) if costs is not None else None)
    return result if parts else result.total


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
    parts: bool = False,
) -> Union[torch.Tensor, Parts]:
    """MACER (Zhai et al. 2020), ``method = "macer"``, on k noisy copies of
    each image.

    With p̂ = mean_j softmax(f(x + δ_j)) and p̂^β = mean_j softmax(β ·
    f(x + δ_j)), the loss is (Σ −log(p̂_y + 1e-10) + λ Σ hinge) / b, where an
    example whose most probable class under p̂^β is y takes the hinge
    (σ/2)(γ − margin) when its margin Φ⁻¹(p̂^β_top) − Φ⁻¹(p̂^β_runner-up) is in
    (0, γ); margins from a probability of 0 or 1 are skipped.

    With ``cost`` and ``gamma_sensitive`` γ₁: the paper's cost-sensitive
    MACER objective. A sensitive example takes (σ/2)(γ₁ − m_cs) whenever
    |m_cs| < γ₁, the currently misclassified ones included, with m_cs =
    Φ⁻¹(p̂^β_top) − Φ⁻¹(max over k in Ω_y of p̂^β_k), top being y for a
    seedwise row (Ω_y every other class) and the most probable class
    otherwise (``robustness_sensitive``); the other examples take MACER's
    hinge with γ₂ = ``gamma`` (``robustness_normal``). Both are weighed by
    λ and divided by b.

    ``sigma``: σ; ``noise_copies``: k; ``beta``: the inverse temperature β;
    ``lam``: λ, the weight of the robustness terms (``lambda``); ``gamma``:
    the hinge margin γ (γ₂ in the cost-sensitive form); ``gamma_sensitive``:
    γ₁ (``cost_sensitive.gamma_sensitive``). ``noise``: δ, ``(b, k, C, H,
    W)``.
    """
    model = _module(model)
    sigma = _real("sigma", sigma, positive=True)
    k = _count("noise_copies", noise_copies)
    beta = _real("beta", beta, positive=True)
    lam = _real("lam", lam, positive=False)
    gamma = _real("gamma", gamma, positive=False)
    sensitive_form = _cost_sensitive(cost, gamma_sensitive, "gamma_sensitive")
    gamma1 = _real("gamma_sensitive", gamma_sensitive, positive=False) if sensitive_form else 0.0
    x = _images(x)
    y = _labels(y, x)
    costs = _cost(cost) if sensitive_form else None
    if costs is not None:
        _classes_below(y, costs.shape[0], "the cost matrix's size")
    forward = _Forward(model, y, _noise(noise, x, k, sigma), costs)
    logits = forward(x)
    if logits.shape[2] < 2:
        raise ValueError(f"the model gives {logits.shape[2]} logit per input, expected at least 2 (MACER's runner-up)")

    b = y.shape[0]
    classification = _smoothed_cross_entropy(logits, y) / b
    p_beta = _soft_smoothed(logits, beta)
    margin, selected = _macer_margin(p_beta, y, gamma)
    if costs is None:
        robustness = _hinge_sum(margin, selected, sigma, gamma) * (lam / b)
        result = Parts(classification + robustness, classification, _zero(classification), robustness)
        return result if parts else result.total

    sets = _sets(costs, y)
    harmful = p_beta.masked_fill(~sets.harmful, -1.0).max(dim=1).values
    of_label = p_beta.gather(1, y.unsqueeze(1)).squeeze(1)
    most_probable = p_beta.max(dim=1).values
    top = torch.where(sets.seedwise, of_label, most_probable)
    z_top, ok_top = _safe_icdf(top)
    z_harmful, ok_harmful = _safe_icdf(harmful)
    margin_cs = z_top - z_harmful
    selected_cs = sets.sensitive & ok_top & ok_harmful & (margin_cs.abs() < gamma1)
    robustness_sensitive = _hinge_sum(margin_cs, selected_cs, sigma, gamma1) * (lam / b)
    robustness_normal = _hinge_sum(margin, selected & ~sets.sensitive, sigma, gamma) * (lam / b)
    result = Parts(
        classification + robustness_sensitive + robustness_normal,
        classification,
        robustness_sensitive,
        robustness_normal,
    )
    return result if parts else result.total


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
    parts: bool = False,
) -> Union[torch.Tensor, Parts]:
    """SmoothAdv (Salman et al. 2019), ``method = "smoothadv"``: Gaussian
    augmentation on adversarial images of the soft smoothed classifier.

    The attack is T steps of PGD, each of length 2ε/T along the normalised
    gradient of −log G(x)_y, G(x) = mean_j softmax(f(x + δ_j)) over the m
    noisy copies, projected into the ℓ₂ ball of radius ε around x and into
    [0, 1]. The loss is the mean cross-entropy of the model on the same m
    noisy copies x_adv + δ_j of each adversarial image, over all b · m
    copies; with ``cost`` and ``weight`` (smoothadv-cs), the reweighted sum
    of Gaussian augmentation's cost-sensitive form over the copies, divided
    by b · m.

    ``sigma``: σ; ``noise_copies``: m; ``epsilon``: ε; ``attack_steps``: T;
    ``weight``: w (``cost_sensitive.weight``). ``noise``: δ, ``(b, m, C, H,
    W)``, the same for the attack and the loss.
    """
    model = _module(model)
    sigma = _real("sigma", sigma, positive=True)
    m = _count("noise_copies", noise_copies)
    epsilon = _real("epsilon", epsilon, positive=True)
    steps = _count("attack_steps", attack_steps)
    reweight = _cost_sensitive(cost, weight, "weight")
    w = _real("weight", weight, positive=False) if reweight else 0.0
    x = _images(x)
    y = _labels(y, x)
    costs = _cost(cost) if reweight else None
    if costs is not None:
        _classes_below(y, costs.shape[0], "the cost matrix's size")
    forward = _Forward(model, y, _noise(noise, x, m, sigma), costs)
    adversarial = _attack(forward, x, y, steps, 2.0 * epsilon / steps, epsilon)
    logits = forward(adversarial)
    repeated = y.repeat_interleave(m)
    flat = logits.reshape(repeated.shape[0], -1)
    result = _augmentation(flat, repeated, (_sets(costs, repeated), w) if costs is not None else None)
    return result if parts else result.total


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
    parts: bool = False,
) -> Union[torch.Tensor, Parts]:
    """SmoothMix (Jeong et al. 2021), ``method = "smoothmix"``: cross-entropy
    on noisy copies, and a mixup towards an adversarial point that asks the
    model to grow less confident along the way.

    The adversarial point x_adv is T unbounded steps of length α along the
    normalised gradient of −log G(x)_y, G(x) = mean_j softmax(f(x + δ_j)),
    each clamped to [0, 1]. The mixed image of each example is x + λ (x_adv
    − x), λ its ``mix``. The loss is

        mean over images and copies of CE(f(x + δ_j), y)
        + η · mean over images and copies of 1[argmax G(x) = y]
              · KL(t ‖ softmax f(x_mix + δ_j)),

    with the target t = (1 − λ) G(x) + λ / K held fixed (K classes, t
    clamped to 1e-20 inside its logarithm); the second term is
    ``robustness_normal``. With ``cost`` and ``weight`` (smoothmix-cs), the
    first term is (Σ CE + w · Σ over sensitive examples CE) / b, each CE the
    mean over the example's copies (``robustness_sensitive`` the extra w ·
    Σ CE / b). The attack, the clean and the mixed copies share one noise.

    ``sigma``: σ; ``noise_copies``: m; ``attack_steps``: T;
    ``attack_step_size``: α; ``mix_weight``: η; ``weight``: w
    (``cost_sensitive.weight``). ``noise``: δ, ``(b, m, C, H, W)``;
    ``mix``: λ, ``(b,)`` in [0, 1], drawn from U(0, ½) when absent.
    """
    model = _module(model)
    sigma = _real("sigma", sigma, positive=True)
    m = _count("noise_copies", noise_copies)
    steps = _count("attack_steps", attack_steps)
    step_size = _real("attack_step_size", attack_step_size, positive=True)
    eta = _real("mix_weight", mix_weight, positive=False)
    reweight = _cost_sensitive(cost, weight, "weight")
    w = _real("weight", weight, positive=False) if reweight else 0.0
    x = _images(x)
    y = _labels(y, x)
    costs = _cost(cost) if reweight else None
    if costs is not None:
        _classes_below(y, costs.shape[0], "the cost matrix's size")
    forward = _Forward(model, y, _noise(noise, x, m, sigma), costs)
    shares = _mix(mix, x)

    adversarial = _attack(forward, x, y, steps, step_size, None)
    b = x.shape[0]
    lam = shares.reshape((b,) + (1,) * (x.dim() - 1))
    mixed_images = x + (adversarial - x) * lam
    clean = forward(x)
    mixed = forward(mixed_images)
    k = clean.shape[2]

    repeated = y.repeat_interleave(m)
    each = _cross_entropy(clean.reshape(b * m, k), repeated).reshape(b, m).mean(dim=1)
    if costs is None:
        classification, extra = each.mean(), _zero(each)
    else:
        classification, extra = _reweighted(each, _sets(costs, y).sensitive, w)
    smoothed = _soft_smoothed(clean, 1.0).detach()
    correct = (smoothed.argmax(dim=1) == y).to(smoothed.dtype)
    share = shares.reshape(b, 1)
    target = (smoothed * (1.0 - share) + share / k).reshape(b, 1, k)
    kl = (target * (target.clamp_min(1e-20).log() - F.log_softmax(mixed, dim=2))).sum(dim=2)
    robustness = (kl * correct.reshape(b, 1)).mean() * eta
    result = Parts(classification + extra + robustness, classification, extra, robustness)
    return result if parts else result.total


__all__ = ["CostLike", "Parts", "gaussian", "macer", "smoothadv", "smoothmix"]
