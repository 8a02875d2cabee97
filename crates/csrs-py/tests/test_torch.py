"""csrs.torch on the CPU, where csrs draws the noise and the module
classifies it (skipped without torch, as in CI; scripts/torch_smoothed.py
checks the rest)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import csrs  # noqa: E402
import csrs.torch  # noqa: E402

OPTIONS = dict(n0=100, n=4_000, alpha=0.001)


def module():
    """Logits (−x[0], x[0]): class 1 where the first value is positive."""
    linear = torch.nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    return linear.eval()


def test_a_module_on_the_cpu_classifies_csrs_noise():
    smoothed = csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, seed=3)
    assert not smoothed.draws_on_device
    x = torch.tensor([0.3, 0.0, 0.0])
    results = [smoothed.certify(x, 1, batch=batch, **OPTIONS) for batch in (100, 1_000)]
    assert results[0] == results[1]
    # The same noisy inputs as csrs.Smoothed over the same function.
    same = csrs.Smoothed(lambda b: (b[:, 0] > 0).astype(np.int64), num_classes=2, sigma=0.5, seed=3)
    assert same.certify(x.numpy(), 1, batch=400, **OPTIONS) == results[0]


def test_a_denoiser_in_front_of_a_classifier_is_one_sequential_module():
    """Denoised smoothing: the base classifier f(D(x + noise)) is
    ``torch.nn.Sequential(denoiser, classifier)``, and certifies as that
    function of the noisy input does."""
    denoiser = torch.nn.Linear(3, 3)
    with torch.no_grad():
        denoiser.weight.copy_(-torch.eye(3))
        denoiser.bias.copy_(torch.tensor([0.2, 0.0, 0.0]))
    base = torch.nn.Sequential(denoiser.eval(), module())
    smoothed = csrs.torch.Smoothed(base, num_classes=2, sigma=0.5, seed=5)
    x = torch.tensor([0.4, 0.0, 0.0])
    result = smoothed.certify(x, 1, batch=500, **OPTIONS)
    same = csrs.Smoothed(lambda b: (0.2 - b[:, 0] > 0).astype(np.int64), num_classes=2, sigma=0.5, seed=5)
    assert same.certify(x.numpy(), 1, batch=500, **OPTIONS) == result
    # The denoiser decides: class 0 behind it, class 1 without it.
    alone = csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, seed=5).certify(x, 1, batch=500, **OPTIONS)
    assert (result["predicted"], alone["predicted"]) == (0, 1)


def test_tensors_certify_as_a_dataset(tmp_path):
    smoothed = csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5)
    inputs = torch.zeros(4, 3)
    inputs[:, 0] = torch.tensor([-0.5, -0.1, 0.1, 0.5])
    rows = smoothed.certify_dataset(inputs, torch.tensor([0, 0, 1, 1]), out=tmp_path / "r.tsv", batch=500, **OPTIONS)
    assert [row["predicted"] for row in rows] == [0, 0, 1, 1]
    assert csrs.report.read_records(tmp_path / "r.tsv") == rows


def test_a_module_of_other_classes_is_refused():
    smoothed = csrs.torch.Smoothed(module(), num_classes=3, sigma=0.5)
    with pytest.raises(ValueError, match=r"logits of shape \(100, 2\), expected \(100, 3\)"):
        smoothed.certify(torch.zeros(3), 0, batch=100, **OPTIONS)


def test_the_device_counter_keeps_each_block_to_its_input(tmp_path):
    # What runs on a GPU, run here on the CPU through its internal class:
    # each block's noise from its seed, classified and counted per block.
    from csrs import _csrs

    counter = csrs.torch._Model(module(), torch.device("cpu"), 2)
    smoothed = _csrs.Smoothed.drawing_own_noise(counter, num_classes=2, sigma=0.5, seed=2, name="linear")
    x = np.array([0.3, 0.0, 0.0], dtype=np.float32)
    results = [smoothed.certify(x, 1, batch=batch, **OPTIONS) for batch in (100, 700, 5_000)]
    assert results[0] == results[1] == results[2]
    assert 0.2 < results[0]["radius_std"] <= 0.3
    inputs = np.zeros((6, 3), dtype=np.float32)
    inputs[:, 0] = np.linspace(-0.6, 0.6, 6)
    labels = (inputs[:, 0] > 0).astype(np.int64)
    rows = smoothed.certify_dataset(inputs, labels, out=tmp_path / "r.tsv", batch=1_000, target_radius=0.3, **OPTIONS)
    for i, row in enumerate(rows):
        alone = smoothed.certify(inputs[i], int(labels[i]), batch=100, target_radius=0.3, example=i, **OPTIONS)
        assert (alone["predicted"], alone["p_lower"], alone["draws"]) == (row["predicted"], row["p_lower"], row["draws"])
        assert row["predicted"] == labels[i] and row["base_predicted"] == labels[i]


class _Recording(torch.nn.Module):
    """The module above, keeping the type of each batch it is given."""

    def __init__(self):
        super().__init__()
        self.linear = module()
        self.dtypes = set()

    def forward(self, x):
        self.dtypes.add(x.dtype)
        return self.linear(x)


def test_a_precision_rounds_the_noisy_batch_and_names_the_model():
    recording = _Recording().eval()
    smoothed = csrs.torch.Smoothed(recording, num_classes=2, sigma=0.5, seed=3, precision="bf16")
    assert smoothed.precision == "bf16" and smoothed.name == "_Recording in bf16"
    x = torch.tensor([0.3, 0.0, 0.0])
    rounded = smoothed.certify(x, 1, batch=400, **OPTIONS)
    assert recording.dtypes == {torch.bfloat16}
    # Rounding keeps the sign of x[0], so the classes, of every noisy copy.
    exact = csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, seed=3).certify(x, 1, batch=400, **OPTIONS)
    assert rounded == exact
    with pytest.raises(ValueError, match="precision 'fp8', expected f32, tf32, bf16, f16 or None"):
        csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, precision="fp8")


@pytest.mark.parametrize(
    "device, message",
    [
        ("banana", "device 'banana', expected a torch device such as 'cpu', 'cuda' or 'cuda:1'"),
        ("cpu:banana", "device 'cpu:banana', expected a torch device"),
        (-1, "device -1, expected a torch device"),
        ("cuda:99", "device 'cuda:99' cannot be used here: "),
    ],
)
def test_a_device_torch_cannot_use_is_a_value_error_naming_it(device, message):
    with pytest.raises(ValueError) as raised:
        csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, device=device)
    assert message in str(raised.value) and "\n" not in str(raised.value), str(raised.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: CUDA can be used")
def test_cuda_without_a_gpu_is_a_value_error_naming_the_device():
    with pytest.raises(ValueError) as raised:
        csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, device="cuda")
    assert str(raised.value) == "device 'cuda' cannot be used here: torch sees no CUDA GPU (torch.cuda.is_available() is False)"


def test_a_model_or_device_of_another_type_is_a_type_error_naming_it():
    def logits(x):
        return torch.stack([-x[:, 0], x[:, 0]], 1)

    with pytest.raises(TypeError, match=r"^model is function, expected a torch.nn.Module \(csrs.Smoothed takes"):
        csrs.torch.Smoothed(logits, num_classes=2, sigma=0.5)
    with pytest.raises(TypeError, match=r"^device is float, expected a torch.device or its name"):
        csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, device=1.5)


def test_arguments_of_tensors_are_checked_by_csrs(tmp_path):
    smoothed = csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, device=torch.device("cpu"))
    x = torch.tensor([0.3, 0.0, 0.0])
    # A label as a one-element tensor is the label; None is no input.
    assert smoothed.certify(x, torch.tensor(1), batch=100, **OPTIONS) == smoothed.certify(x, 1, batch=100, **OPTIONS)
    with pytest.raises(TypeError, match="x is NoneType, expected an array"):
        smoothed.certify(None, 1, batch=100, **OPTIONS)
    # Tensors in a list are measured as the array they make, before it is made.
    huge = torch.zeros(1).expand(100_000, 100_000)
    with pytest.raises(ValueError, match=r"x has shape \[2, 100000, 100000\], expected at most 10737418 values"):
        smoothed.certify([huge, huge], 1, batch=100, **OPTIONS)
    with pytest.raises(ValueError, match="label -1, expected a class below 2"):
        smoothed.certify(x, -1, batch=100, **OPTIONS)
    with pytest.raises(ValueError, match="seed -1, expected 0 to"):
        csrs.torch.Smoothed(module(), num_classes=2, sigma=0.5, seed=-1)
    with pytest.raises(ValueError, match=r"labels: 2, expected classes 0 to 1 \(labels\[1\]\)"):
        smoothed.certify_dataset(torch.zeros(2, 3), torch.tensor([0, 2]), out=tmp_path / "r.tsv", batch=100, **OPTIONS)
