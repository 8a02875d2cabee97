"""csrs.torch.losses against csrs-train: the same network, weights, images,
noise and mix on both sides, the values and gradients csrs-train computed
(crates/csrs-train/tests/data/torch-oracle.json, float32 on the CPU) are
those of the PyTorch losses. Every part of each loss agrees to 1e-5
relative (1e-7 absolute where csrs-train's value is 0), and the gradient
of each parameter to 1e-5 in norm: ‖g_torch − g_csrs‖ / ‖g_csrs‖ ≤ 1e-5.

Also the refusals, that the attacks leave no gradient on the parameters,
that given noise gives the same loss twice, and the identities between the
standard and cost-sensitive forms. Skipped without torch, as in CI
(scripts/torch_losses_check.sh runs it with torch)."""

import json
import math
import pathlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import csrs  # noqa: E402
from csrs.torch import losses  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[3]
ORACLE = REPO / "crates" / "csrs-train" / "tests" / "data" / "torch-oracle.json"

RELATIVE = 1e-5
ABSOLUTE_AT_ZERO = 1e-7

FUNCTIONS = {
    "gaussian": losses.gaussian,
    "macer": losses.macer,
    "smoothadv": losses.smoothadv,
    "smoothmix": losses.smoothmix,
}
PARTS = ("total", "classification", "robustness_sensitive", "robustness_normal")


class Net(torch.nn.Module):
    """The oracle's network: (x − mean) / std, a 3×3 convolution of 4
    channels with padding 1, ReLU, 2×2 max pooling, a linear layer."""

    def __init__(self, input_shape=(1, 8, 8), mean=(0.5,), std=(0.25,), classes=10):
        super().__init__()
        channels, height, width = input_shape
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.conv1 = torch.nn.Conv2d(channels, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * (height // 2) * (width // 2), classes)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        return self.fc(x.flatten(1))


def tensor(entry):
    return torch.tensor(entry["values"], dtype=torch.float32).reshape(entry["shape"])


def oracle():
    with open(ORACLE) as f:
        return json.load(f)


def oracle_cases():
    if not ORACLE.exists():
        return []
    return [pytest.param(i, case, id=f"{i}-{case['objective']}") for i, case in enumerate(oracle()["cases"])]


def oracle_net(data):
    network = data["network"]
    net = Net(tuple(network["input_shape"]), tuple(network["mean"]), tuple(network["std"]))
    state = net.state_dict()
    for name, entry in data["weights"].items():
        assert tuple(state[name].shape) == tuple(entry["shape"]), name
        state[name] = tensor(entry)
    net.load_state_dict(state)
    return net


def relative_error(actual, expected):
    return abs(actual - expected) / abs(expected) if expected != 0 else abs(actual)


def test_the_oracle_is_there():
    assert ORACLE.exists(), f"{ORACLE} is missing (written by csrs-train's tests)"
    assert oracle()["cases"]


@pytest.mark.parametrize("index,case", oracle_cases())
def test_each_loss_and_its_gradient_are_those_of_csrs_train(index, case):
    data = oracle()
    net = oracle_net(data)
    x = tensor(data["images"])
    y = torch.tensor(data["labels"], dtype=torch.int64)
    objective = case["objective"]
    function = FUNCTIONS[objective.removesuffix("-cs")]
    arguments = dict(case["arguments"])
    if objective.endswith("-cs"):
        arguments["cost"] = data["cost"]
    arguments["noise"] = tensor(case["noise"])
    if "mix" in case:
        arguments["mix"] = tensor(case["mix"])

    parts = function(net, x, y, parts=True, **arguments)
    for name in PARTS:
        actual, expected = getattr(parts, name).item(), case["loss"][name]
        if expected == 0:
            assert abs(actual) <= ABSOLUTE_AT_ZERO, (name, actual)
        else:
            assert relative_error(actual, expected) <= RELATIVE, (name, actual, expected)

    parts.total.backward()
    parameters = dict(net.named_parameters())
    assert case["gradient"], "the case has no gradient"
    for name, entry in case["gradient"].items():
        expected = tensor(entry).double()
        actual = parameters[name].grad.double()
        error = (actual - expected).norm() / expected.norm() if expected.norm() > 0 else actual.norm()
        assert float(error) <= RELATIVE, (name, float(error))


# Without the oracle: a small network of fixed random weights.


B, COPIES, CLASSES = 6, 3, 10
SEEDWISE = [[0.0 if j == i or i != 3 else 1.0 for j in range(CLASSES)] for i in range(CLASSES)]
PAIRWISE = [[1.0 if (i, j) in {(3, 8), (5, 2), (5, 7)} else 0.0 for j in range(CLASSES)] for i in range(CLASSES)]
NO_HARM = [[0.0] * CLASSES for _ in range(CLASSES)]


def small():
    torch.manual_seed(0)
    net = Net()
    x = torch.rand(B, 1, 8, 8)
    y = torch.tensor([3, 5, 8, 3, 0, 5])
    return net, x, y


def noise(copies=COPIES, sigma=0.25, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(B, copies, 1, 8, 8, generator=generator) * sigma


MIX = torch.tensor([0.1, 0.4, 0.0, 0.25, 0.5, 0.3])

#: Each objective with its numbers, given noise and mix, in its standard form.
STANDARD = {
    "gaussian": (losses.gaussian, dict(sigma=0.25, noise=noise(1))),
    "macer": (losses.macer, dict(sigma=0.25, noise_copies=COPIES, beta=16.0, lam=3.0, gamma=8.0, noise=noise())),
    "smoothadv": (
        losses.smoothadv,
        dict(sigma=0.25, noise_copies=COPIES, epsilon=0.5, attack_steps=2, noise=noise()),
    ),
    "smoothmix": (
        losses.smoothmix,
        dict(
            sigma=0.25,
            noise_copies=COPIES,
            attack_steps=2,
            attack_step_size=0.5,
            mix_weight=5.0,
            noise=noise(),
            mix=MIX,
        ),
    ),
}
#: The number of the cost-sensitive form of each.
SENSITIVE_NUMBER = {"gaussian": "weight", "macer": "gamma_sensitive", "smoothadv": "weight", "smoothmix": "weight"}


def call(name, net, x, y, **changes):
    function, arguments = STANDARD[name]
    arguments = {**arguments, **changes}
    return function(net, x, y, **{k: v for k, v in arguments.items() if v is not None})


def one_line(error):
    text = str(error.value)
    assert "\n" not in text and len(text) < 300, text
    return text


def test_each_part_is_a_0d_tensor_and_the_total_their_sum():
    net, x, y = small()
    for name in STANDARD:
        for cost in (None, PAIRWISE, SEEDWISE):
            extra = {} if cost is None else {"cost": cost, SENSITIVE_NUMBER[name]: 2.0}
            parts = call(name, net, x, y, parts=True, **extra)
            assert isinstance(parts, losses.Parts)
            assert all(part.shape == () for part in parts)
            total = parts.classification + parts.robustness_sensitive + parts.robustness_normal
            assert torch.allclose(parts.total, total, rtol=1e-6, atol=0), (name, cost)
            alone = call(name, net, x, y, **extra)
            assert alone.shape == () and alone.requires_grad and alone.item() == parts.total.item()


@pytest.mark.parametrize("name", list(STANDARD))
def test_refusals_name_the_argument(name):
    net, x, y = small()
    number = SENSITIVE_NUMBER[name]
    refused = [
        (dict(cost=PAIRWISE), rf"cost given without {number}"),
        ({number: 1.0}, rf"{number} given without cost"),
        (dict(cost=[[float(i == 3 and j == 8) for j in range(12)] for i in range(12)], **{number: 1.0}),
         r"^cost is 12x12, expected 10x10: one row and column per logit"),
        (dict(cost=[[0.0, -1.0], [0.0, 0.0]], **{number: 1.0}), r"cost\[0\]\[1\] is -1.0"),
        (dict(cost=[[1.0, 0.0], [0.0, 0.0]], **{number: 1.0}), r"cost\[0\]\[0\] is 1.0, expected 0"),
        (dict(cost=[[0.0, math.nan], [0.0, 0.0]], **{number: 1.0}), r"cost\[0\]\[1\] is nan"),
        (dict(cost=[[0.0, 1.0, 0.0]], **{number: 1.0}), r"cost has shape \(1, 3\)"),
        (dict(sigma=0.0), r"^sigma 0.0, expected a finite number > 0"),
        (dict(sigma=-0.25), r"^sigma -0.25, expected"),
        (dict(sigma=math.inf), r"^sigma inf, expected"),
        (dict(noise=torch.zeros(B, 2, 1, 8, 7)), r"^noise has shape \(6, 2, 1, 8, 7\), expected"),
    ]
    if name != "gaussian":
        refused.append((dict(noise_copies=0), r"^noise_copies 0, expected an integer >= 1"))
    if name == "macer":
        refused += [(dict(beta=0.0), r"^beta 0.0"), (dict(lam=-1.0), r"^lam -1.0"), (dict(gamma=-1.0), r"^gamma")]
    if name == "smoothadv":
        refused += [(dict(epsilon=0.0), r"^epsilon 0.0"), (dict(attack_steps=0), r"^attack_steps 0")]
    if name == "smoothmix":
        refused += [
            (dict(attack_step_size=0.0), r"^attack_step_size 0.0"),
            (dict(mix_weight=-1.0), r"^mix_weight -1.0"),
            (dict(mix=torch.zeros(B + 1)), r"^mix has shape \(7,\), expected \(6,\)"),
            (dict(mix=MIX + 1.0), r"^mix has a value outside \[0, 1\]"),
        ]
    if name in ("gaussian", "smoothadv", "smoothmix"):
        refused.append((dict(cost=PAIRWISE, weight=-1.0), r"^weight -1.0"))
    for changes, message in refused:
        with pytest.raises(ValueError, match=message) as error:
            call(name, net, x, y, **changes)
        one_line(error)

    # Labels out of the model's classes, and out of the cost matrix's.
    with pytest.raises(ValueError, match=r"^y has class 10, expected classes below 10") as error:
        call(name, net, x, torch.tensor([3, 5, 8, 3, 0, 10]))
    one_line(error)
    small_cost = [[0.0, 1.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match=r"^y has class 8, expected classes below 2 \(the cost matrix's size\)"):
        call(name, net, x, y, cost=small_cost, **{number: 1.0})
    with pytest.raises(ValueError, match=r"^y has class -1"):
        call(name, net, x, torch.tensor([3, 5, 8, 3, 0, -1]))
    with pytest.raises(ValueError, match=r"^y has shape \(5,\), expected \(6,\)"):
        call(name, net, x, y[:5])
    # Types.
    with pytest.raises(TypeError, match=r"^sigma is str, expected a number"):
        call(name, net, x, y, sigma="0.25")
    with pytest.raises(TypeError, match=r"^y has dtype torch.float32"):
        call(name, net, x, y.float())
    with pytest.raises(TypeError, match=r"^model is function"):
        call(name, lambda batch: batch, x, y)
    if name != "gaussian":
        with pytest.raises(TypeError, match=r"^noise_copies is float, expected an integer"):
            call(name, net, x, y, noise_copies=3.0)


def test_gaussian_takes_one_copy_with_or_without_its_axis():
    net, x, y = small()
    with_axis = noise(1)
    assert torch.equal(
        losses.gaussian(net, x, y, sigma=0.25, noise=with_axis),
        losses.gaussian(net, x, y, sigma=0.25, noise=with_axis[:, 0]),
    )
    with pytest.raises(ValueError, match=r"^noise has shape \(6, 2, 1, 8, 8\), expected \(6, 1, 1, 8, 8\) or"):
        losses.gaussian(net, x, y, sigma=0.25, noise=noise(2))


@pytest.mark.parametrize("name", ["smoothadv", "smoothmix"])
@pytest.mark.parametrize("training", [True, False])
def test_the_attacks_leave_no_gradient_on_the_parameters(name, training):
    net, x, y = small()
    net.train(training)
    x.requires_grad_(True)
    total = call(name, net, x, y)
    assert all(parameter.grad is None for parameter in net.parameters())
    assert x.grad is None
    assert net.training == training
    total.backward()
    assert all(parameter.grad is not None for parameter in net.parameters())
    # The adversarial images are constants: nothing flows back to x.
    assert x.grad is None


@pytest.mark.parametrize("name", list(STANDARD))
def test_the_same_noise_gives_the_same_loss(name):
    net, x, y = small()
    for extra in ({}, {"cost": PAIRWISE, SENSITIVE_NUMBER[name]: 2.0}):
        first = call(name, net, x, y, parts=True, **extra)
        second = call(name, net, x, y, parts=True, **extra)
        assert all(torch.equal(a, b) for a, b in zip(first, second)), (name, extra)


@pytest.mark.parametrize("name", list(STANDARD))
def test_drawn_noise_follows_torchs_generator(name):
    net, x, y = small()
    values = []
    for _ in range(2):
        torch.manual_seed(7)
        values.append(call(name, net, x, y, noise=None, mix=None).item())
    assert values[0] == values[1] and math.isfinite(values[0])


def close_with_gradients(first, second, net, x, y):
    """Two losses of the same network agree, and so do their gradients."""
    values = []
    for loss in (first, second):
        net.zero_grad()
        total = loss()
        total.backward()
        values.append((total.detach(), [p.grad.clone() for p in net.parameters()]))
    (a, grads_a), (b, grads_b) = values
    assert torch.allclose(a, b, rtol=1e-6, atol=0), (float(a), float(b))
    for ga, gb in zip(grads_a, grads_b):
        assert torch.allclose(ga, gb, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["gaussian", "smoothadv", "smoothmix"])
def test_the_reweighted_form_with_weight_0_is_the_standard_form(name):
    net, x, y = small()
    for cost in (PAIRWISE, SEEDWISE):
        reweighted = call(name, net, x, y, cost=cost, weight=0.0, parts=True)
        assert reweighted.robustness_sensitive.item() == 0.0
        close_with_gradients(
            lambda: call(name, net, x, y, cost=cost, weight=0.0), lambda: call(name, net, x, y), net, x, y
        )


@pytest.mark.parametrize("name", list(STANDARD))
def test_a_cost_matrix_without_harm_gives_the_standard_form(name):
    # No class is sensitive: the cost-sensitive terms vanish whatever their
    # number, and cost-sensitive MACER's other examples are all examples.
    net, x, y = small()
    number = SENSITIVE_NUMBER[name]
    for value in (0.0, 4.0):
        close_with_gradients(
            lambda: call(name, net, x, y, cost=NO_HARM, **{number: value}), lambda: call(name, net, x, y), net, x, y
        )


def test_a_csrs_cost_matrix_is_its_rows():
    net, x, y = small()
    matrix = csrs.CostMatrix(np.array(PAIRWISE))
    for name in STANDARD:
        number = {SENSITIVE_NUMBER[name]: 2.0}
        as_matrix = call(name, net, x, y, cost=matrix, parts=True, **number)
        for cost in (PAIRWISE, np.array(PAIRWISE), torch.tensor(PAIRWISE)):
            as_rows = call(name, net, x, y, cost=cost, parts=True, **number)
            assert all(torch.equal(a, b) for a, b in zip(as_matrix, as_rows)), name


def test_sensitive_examples_weigh_more():
    # Labels 3 and 5 are sensitive under PAIRWISE; label 8 and 0 are not.
    net, x, y = small()
    for name in ("gaussian", "smoothadv", "smoothmix"):
        base = call(name, net, x, y, parts=True)
        heavier = call(name, net, x, y, cost=PAIRWISE, weight=1.0, parts=True)
        assert heavier.robustness_sensitive.item() > 0
        assert heavier.classification.item() == pytest.approx(base.classification.item(), rel=1e-6)
    macer = call("macer", net, x, y, cost=PAIRWISE, gamma_sensitive=8.0, parts=True)
    assert macer.robustness_sensitive.item() > 0


def test_a_vanishing_runner_up_leaves_the_gradient_finite():
    """At β = 16 a runner-up of probability ~1e-44 (a float32 denormal) is
    common in training; its margin is skipped, and its Φ⁻¹ must not bring
    an infinite derivative that the mask of 0 would turn into NaN."""
    linear = torch.nn.Linear(1, 3, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.0], [-6.25], [-50.0]]))
    x = torch.ones(2, 1)
    y = torch.zeros(2, dtype=torch.int64)
    total = losses.macer(
        linear, x, y, sigma=0.25, noise_copies=1, beta=16.0, lam=3.0, gamma=8.0, noise=torch.zeros(2, 1, 1)
    )
    runner_up = torch.softmax(16.0 * linear(x), dim=1)[0, 1].item()
    assert 0.0 < runner_up < 1e-40
    total.backward()
    assert torch.isfinite(linear.weight.grad).all(), linear.weight.grad
