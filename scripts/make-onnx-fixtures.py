#!/usr/bin/env python3
"""Exports torchvision classifiers to graph-only ONNX files for `stria import`'s tests.

Needs (pip): torch==2.4.1 torchvision==0.19.1 onnx==1.16.2 "numpy<2"
(CPU wheels suffice; no weights are downloaded: every model has random weights).

    python3 scripts/make-onnx-fixtures.py [OUTDIR]        # default tests/fixtures/onnx

For each model it writes OUTDIR/NAME.onnx: the graph exported at opset 17 (and at the ends of
the range, resnet18-opset13.onnx and mobilenet_v2-opset18.onnx) with batch norms kept
as BatchNormalization nodes (training=PRESERVE on a model in eval mode; the default EVAL export
folds them into the convolutions), then saved with every tensor of 1 KiB or more as external
data whose file is deleted: a graph-only file, as users keep big models. The small constants an
importer needs (Clip bounds, Reshape shapes) stay inside. A small network of the operators the
classifiers do not use (`SmallOps` below) is written both ways: `small_ops.onnx` graph-only and
`small_ops-weights.onnx` with its weights embedded. OUTDIR/expected.json records, per model, what
torchvision reports: parameters (`num_params` of its weights' metadata, checked against the
module's own count), GFLOPS (`_ops`, its multiply-accumulate count in billions, rounded), the
exact multiply-accumulates of every Conv2d and Linear module on a 224x224 input (forward hooks),
the number of those modules, and the parameters of the Conv2d biases (stria counts no
convolution bias: a batch norm's shift, or an addition to a share, takes its place; it counts
the bias of a fully connected layer).
"""

import json
import os
import sys

import onnx
import torch
import torchvision

MODELS = [
    ("resnet18", "ResNet18_Weights"),
    ("resnet50", "ResNet50_Weights"),
    ("mobilenet_v2", "MobileNet_V2_Weights"),
    ("vgg16", "VGG16_Weights"),
    ("densenet121", "DenseNet121_Weights"),
    ("squeezenet1_1", "SqueezeNet1_1_Weights"),
    ("efficientnet_b0", "EfficientNet_B0_Weights"),
]


class SmallOps(torch.nn.Module):
    """A small network with its weights embedded (`small_ops-weights.onnx`, 60 KB) and the ops
    torchvision's classifiers do not use: dilation, a Pad node, groups, ReLU6, ceil_mode,
    average pooling, a scale by a constant, a three-way concat."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        self.pad = torch.nn.ZeroPad2d((0, 2, 0, 2))
        self.dilated = torch.nn.Conv2d(16, 16, 3, padding=1, dilation=2)
        self.grouped = torch.nn.Conv2d(16, 32, 3, padding=1, groups=4, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(32)
        self.pool = torch.nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.avg = torch.nn.AvgPool2d(2)
        self.fc = torch.nn.Linear(64 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        a = self.dilated(self.pad(x))
        b = torch.nn.functional.relu6(self.bn2(self.grouped(x))) * 0.5
        x = torch.cat([a, b, x], 1)
        x = self.avg(self.pool(x))
        return self.fc(torch.flatten(x, 1))


def macs_and_layers(model, x):
    """Exact MACs of every Conv2d and Linear, their count and the Conv2d biases' parameters."""
    total = {"macs": 0, "layers": 0, "conv_bias": 0}

    def hook(m, inp, out):
        if isinstance(m, torch.nn.Conv2d):
            per_out = (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            total["macs"] += out.numel() // out.shape[0] * per_out
        else:
            total["macs"] += m.in_features * m.out_features
        total["layers"] += 1
        if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
            total["conv_bias"] += m.bias.numel()

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


# The same models at the ends of the opset range torchvision's classifiers are exported at.
OPSET_VARIANTS = [("resnet18", 13), ("mobilenet_v2", 18)]


def export(model, x, path, whole, opset=17):
    tmp = path + ".full"
    torch.onnx.export(
        model,
        x,
        tmp,
        opset_version=opset,
        training=torch.onnx.TrainingMode.PRESERVE,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    m = onnx.load(tmp)
    os.remove(tmp)
    m = onnx.shape_inference.infer_shapes(m)
    if whole:
        onnx.save(m, path)
        return
    data = os.path.basename(path) + ".data"
    onnx.save(
        m,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data,
        size_threshold=1024,
    )
    os.remove(os.path.join(os.path.dirname(path), data))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/onnx"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    expected = {}
    for name, weights in MODELS:
        model = getattr(torchvision.models, name)(weights=None).eval()
        meta = getattr(torchvision.models, weights).DEFAULT.meta
        params = sum(p.numel() for p in model.parameters())
        assert params == meta["num_params"], (name, params, meta["num_params"])
        counted = macs_and_layers(model, x)
        expected[name] = {
            "num_params": meta["num_params"],
            "gflops": meta["_ops"],
            "macs": counted["macs"],
            "conv_and_linear_layers": counted["layers"],
            "conv_bias_params": counted["conv_bias"],
        }
        export(model, x, os.path.join(out, name + ".onnx"), whole=False)
        for variant, opset in OPSET_VARIANTS:
            if variant == name:
                path = os.path.join(out, "%s-opset%d.onnx" % (name, opset))
                export(model, x, path, whole=False, opset=opset)
        print(name, expected[name], flush=True)
    small = SmallOps().eval()
    xs = torch.randn(1, 3, 32, 32)
    counted = macs_and_layers(small, xs)
    expected["small_ops"] = {
        "num_params": sum(p.numel() for p in small.parameters()),
        "macs": counted["macs"],
        "conv_and_linear_layers": counted["layers"],
        "conv_bias_params": counted["conv_bias"],
        "output": list(small(xs).shape),
    }
    export(small, xs, os.path.join(out, "small_ops.onnx"), whole=False)
    export(small, xs, os.path.join(out, "small_ops-weights.onnx"), whole=True)
    print("small_ops", expected["small_ops"], flush=True)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
