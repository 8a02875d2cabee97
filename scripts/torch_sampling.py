"""Anchor: how fast PyTorch (CPU) draws Monte Carlo samples for certification,
the way the reference implementation does it (repeat input, add Gaussian noise,
forward, argmax, count). Usage: python3 scripts/torch_sampling.py [arch] [N] [batch] [mode] [device]
mode: eager (default, what the reference code does) or tuned (TorchScript
frozen for inference: BatchNorm folded into the convolutions, channels-last,
oneDNN), the best a PyTorch user gets without writing kernels; on a GPU,
"amp" adds bf16 autocast. device: cpu (default) or cuda.
Prints samples/s and the implied GFLOP/s."""
import sys, time, torch, torch.nn as nn, torch.nn.functional as F

class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2); self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(400, 120); self.f2 = nn.Linear(120, 84); self.f3 = nn.Linear(84, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2); x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f3(F.relu(self.f2(F.relu(self.f1(x.flatten(1))))))

class Block(nn.Module):
    def __init__(self, i, o, s):
        super().__init__()
        self.a = nn.Conv2d(i, o, 3, s, 1, bias=False); self.ba = nn.BatchNorm2d(o)
        self.b = nn.Conv2d(o, o, 3, 1, 1, bias=False); self.bb = nn.BatchNorm2d(o)
        self.sc = None if (s == 1 and i == o) else nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))
    def forward(self, x):
        y = F.relu(self.ba(self.a(x))); y = self.bb(self.b(y))
        return F.relu(y + (x if self.sc is None else self.sc(x)))

class CifarResNet(nn.Module):
    def __init__(self, depth):
        super().__init__(); n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, i = [], 16
        for o, s in [(16, 1), (32, 2), (64, 2)]:
            for j in range(n):
                layers.append(Block(i, o, s if j == 0 else 1)); i = o
        self.body = nn.Sequential(*layers); self.fc = nn.Linear(64, 10)
    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.body(self.stem(x)), 1).flatten(1))

def main():
    arch = sys.argv[1] if len(sys.argv) > 1 else "lenet"
    N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    if arch == "lenet":
        model, shape, flops = LeNet(), (1, 28, 28), 2 * (28*28*6*25 + 10*10*16*150 + 400*120 + 120*84 + 84*10)
    elif arch in ("resnet18", "resnet50"):  # ImageNet-sized, torchvision's layout (needs torchvision)
        import torchvision
        model, shape, flops = getattr(torchvision.models, arch)(), (3, 224, 224), None
    else:
        d = int(arch.replace("resnet", "")); model, shape = CifarResNet(d), (3, 32, 32)
        flops = None
    mode = sys.argv[4] if len(sys.argv) > 4 else "eager"
    dev = torch.device(sys.argv[5] if len(sys.argv) > 5 else "cpu")
    model.eval(); x = torch.rand(shape); counts = torch.zeros(1000 if shape[1] == 224 else 10, dtype=torch.long)
    def run(n):
        with torch.no_grad():
            left = n
            while left > 0:
                b = min(batch, left); left -= b
                xb = x.repeat((b, 1, 1, 1)); xb = xb + torch.randn_like(xb) * 0.5
                counts.add_(torch.bincount(model(xb).argmax(1), minlength=counts.numel()))
    if flops is None:
        from torch.utils.flop_counter import FlopCounterMode
        with FlopCounterMode(display=False) as fc:
            model(torch.rand((1,) + shape))
        flops = fc.get_total_flops()
    model, x, counts = model.to(dev), x.to(dev), counts.to(dev)
    if mode in ("tuned", "amp"):
        if len(shape) == 3 and shape[0] > 1:
            model = model.to(memory_format=torch.channels_last)
        with torch.no_grad():
            model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if mode == "amp" else torch.no_grad()
    with ctx:
        run(batch); sync()
        t = time.perf_counter(); run(N); sync(); dt = time.perf_counter() - t
    print(f"{arch} {mode} {dev.type} torch{torch.__version__} threads={torch.get_num_threads()} batch={batch} N={N} "
          f"samples/s={N/dt:.0f} MFLOP/sample={flops/1e6:.2f} GFLOP/s={N*flops/dt/1e9:.1f}")


if __name__ == "__main__":
    main()
