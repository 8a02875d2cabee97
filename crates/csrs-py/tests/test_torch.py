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
