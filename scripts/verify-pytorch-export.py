#!/usr/bin/env python3
"""Builds the PyTorch module `stria export --to pytorch` writes for each network spec given and
holds it against stria: trainable parameters (masked-out kernel positions excluded) must equal
stria's `params` (`stria compare --format csv`) and the output shape of a forward pass on a
random input must equal the spec's output (the last layer before an `argmax`, from `stria cost
--format csv`). Prints one line per network and exits non-zero on any difference.

A network stria cannot cost yet (a `sigmoid` or a `mul` layer: EfficientNet-B0) is held against
the `params` stria writes into the module's docstring and the output shape of the graph output
of `stria export --to onnx`, which is stria's own shape inference (that needs the onnx package).

Needs (pip): torch==2.4.1 "numpy<2" (the CPU wheel suffices); onnx==1.16.2 for networks stria
does not cost.

    python3 scripts/verify-pytorch-export.py target/release/stria configs/models/strianet-*.json
"""

import csv
import importlib.util
import io
import os
import re
import subprocess
import sys
import tempfile

import torch


def stria(binary, *args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def expected(binary, spec):
    params = int(next(csv.DictReader(io.StringIO(stria(binary, "compare", spec, "--format", "csv"))))["params"])
    rows = [r for r in csv.DictReader(io.StringIO(stria(binary, "cost", spec, "--format", "csv"))) if r["layer"] != "total"]
    while rows and rows[-1]["kind"] == "argmax":
        rows.pop()
    last = rows[-1]
    out = (int(last["out_c"]), int(last["out_h"]), int(last["out_w"]))
    # stria's shapes are CxHxW; a flat tensor (after an fc or a flatten) is Cx1x1, [N, C] in torch.
    flat = False
    for r in rows:
        if r["kind"] in ("fc", "flatten"):
            flat = True
        elif not (r["kind"].startswith(("relu", "batchnorm")) or r["kind"] in ("add", "shuffle")):
            flat = False
    shape = (1, out[0]) if flat else (1, *out)
    first = rows[0]
    return params, shape, (1, int(first["in_c"]), int(first["in_h"]), int(first["in_w"]))


def expected_uncosted(binary, spec, module_source, tmp):
    """stria's parameters (the module docstring) and output shape (the ONNX export's graph output,
    the last layer before an `argmax`) of a network no protocol prices yet."""
    import onnx

    params = int(re.search(r"(\d+) parameters as stria counts them", module_source).group(1))
    path = os.path.join(tmp, "uncosted.onnx")
    stria(binary, "export", spec, "--to", "onnx", "-o", path)
    graph = onnx.load(path).graph
    last = [n for n in graph.node if n.op_type != "ArgMax"][-1].output[0]
    infos = {v.name: v for v in list(graph.value_info) + list(graph.output)}
    shape = tuple(d.dim_value for d in infos[last].type.tensor_type.shape.dim)
    inp = tuple(d.dim_value for d in graph.input[0].type.tensor_type.shape.dim)
    return params, shape, inp


def trainable(model):
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    for name, buf in model.named_buffers():
        if name.endswith("_mask"):
            conv = getattr(model, name[: -len("_mask")])
            total -= conv.weight.numel() * (buf.numel() - int(buf.sum().item())) // buf.numel()
    return total


def main():
    binary, specs = sys.argv[1], sys.argv[2:]
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            py = os.path.join(tmp, "m%d.py" % specs.index(spec))
            stria(binary, "export", spec, "--to", "pytorch", "-o", py)
            module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("m", py))
            module.__loader__.exec_module(module)
            classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v is not torch.nn.Module]
            model = classes[0]().eval()
            try:
                params, shape, inp = expected(binary, spec)
            except subprocess.CalledProcessError as e:
                if "cannot be costed" not in e.stderr:
                    raise
                with open(py) as f:
                    params, shape, inp = expected_uncosted(binary, spec, f.read(), tmp)
            with torch.no_grad():
                out = tuple(model(torch.randn(*inp)).shape)
            got = trainable(model)
            ok = got == params and out == shape
            bad += not ok
            print("%s %s: parameters %d (stria %d), output %s (spec %s)" % ("ok" if ok else "DIFFERS", spec, got, params, out, shape), flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
