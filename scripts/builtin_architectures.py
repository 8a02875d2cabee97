"""csrs's built-in architectures, each with a dataset that gives it its input
shape, classes and normalisation, and the `--classes` of `csrs model init`
where the dataset needs one: what the ONNX scripts make and export."""

# Architecture, dataset, classes.
ARCHITECTURES = [
    ("mlp", "digits", None),
    ("lenet5", "mnist-5k", None),
    ("digits-cnn", "digits", None),
    ("cifar-resnet20", "cifar10", None),
    ("cifar-resnet32", "cifar10", None),
    ("cifar-resnet44", "cifar10", None),
    ("cifar-resnet56", "cifar10", None),
    ("cifar-resnet110", "cifar10", None),
    ("resnet18", "imagenette", "10"),
    ("resnet50", "imagenette", "10"),
]
