"""Frozen ImageNet VGG feature extractors for perceptual / feature-reconstruction losses.

Two methods use one: ``multipath`` (VGG16 up to relu3_3, Wang et al. 2025, Sec. III-C) and ``s2color`` (VGG-19
relu2_2, Corpetti et al. 2023, Eq. 1's ``L_f``). Both are torchvision's own layer lists (``make_layers`` with cfg
"D" / "E"), built without the 120 M-parameter classifier and truncated after the deepest requested layer.

Weights are never downloaded: a state-dict file (torchvision's ``vgg16-*.pth`` / ``vgg19-*.pth`` or only
its ``features.*`` part), else torchvision's cache (``$TORCH_HOME/hub/checkpoints``) when present, else
random weights with a loud :class:`RandomVGGWarning` -- the loss term is then *not* the paper's.
The extractor is saved in checkpoints, so a checkpoint evaluates the same on any machine.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from semcolor.checkpoints import read_torch_file

#: ImageNet statistics torchvision's classification weights (VGG, ResNet) were trained with
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

VGGArch = Literal["vgg16", "vgg19"]
_CFG = {"vgg16": "D", "vgg19": "E"}


class RandomVGGWarning(UserWarning):
    """A perceptual loss uses a VGG with random weights (no weights file found)."""


def torchvision_vgg_cache(arch: VGGArch) -> Path:
    """Where torchvision keeps the ImageNet weights of ``arch`` once downloaded (never downloaded here)."""
    from torchvision.models import VGG16_Weights, VGG19_Weights

    url = {"vgg16": VGG16_Weights, "vgg19": VGG19_Weights}[arch].IMAGENET1K_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def vgg_layer_names(arch: VGGArch) -> list[str]:
    """Names of the modules of torchvision's ``<arch>().features``: conv1_1, relu1_1, ..., pool5."""
    from torchvision.models.vgg import cfgs

    names, block, idx = [], 1, 1
    for v in cfgs[_CFG[arch]]:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return names


class VGGFeatures(nn.Module):
    """Frozen VGG16 / VGG-19 returning the activations of ``layers`` for sRGB in [0, 1] (ImageNet-normalised
    inside), in the order of ``layers``. Stays in eval mode; gradients flow to the input only.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layers: module names (see :func:`vgg_layer_names`), e.g. ``("relu2_2",)``.
        weights: a state-dict file; ``None`` looks in torchvision's cache only.
        owner, option: the method and its argument naming ``weights``, for the messages.

    ``self.pretrained`` says whether weights were loaded.
    """

    def __init__(self, arch: VGGArch = "vgg19", layers: Sequence[str] = ("relu2_2",),
                 weights: str | Path | None = None, owner: str = "semcolor", option: str = "weights") -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        if arch not in _CFG:
            raise ValueError(f"VGG architecture must be one of {sorted(_CFG)}, got {arch!r}")
        self.arch, self.owner, self.option = arch, owner, option
        names = vgg_layer_names(arch)
        layers = [layers] if isinstance(layers, str) else list(layers)
        unknown = [n for n in layers if n not in names]
        if not layers or unknown:
            raise ValueError(f"unknown {arch.upper()} layer(s) {unknown or layers}; choose from {names}")
        last = max(names.index(n) for n in layers)
        features = make_layers(cfgs[_CFG[arch]], batch_norm=False)[: last + 1]
        for m in features:
            if isinstance(m, nn.ReLU):
                m.inplace = False  # requested activations must not be overwritten by the next ReLU
            elif isinstance(m, nn.Conv2d):  # torchvision's VGG initialisation (``vgg19(weights=None)``)
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.features = features
        self.outputs = [names.index(n) for n in layers]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.pretrained = self._load(weights)
        self.requires_grad_(False)
        self.eval()

    def _load(self, weights: str | Path | None) -> bool:
        name = self.arch.upper()
        path = Path(weights).expanduser() if weights else torchvision_vgg_cache(self.arch)
        if not path.is_file():
            if weights:
                raise FileNotFoundError(f"{self.owner}: {name} weights file '{path}' does not exist")
            warnings.warn(
                f"{self.owner}: no {name} weights (looked for torchvision's cache '{path}'; pass "
                f"{self.option}=<file>). The loss now uses a RANDOM {name}: it is NOT the paper's perceptual "
                f"term and its values are not meaningful as such. Nothing is downloaded; to get the weights "
                f"run once, with network access: python -c \"import torchvision; "
                f"torchvision.models.{self.arch}(weights='IMAGENET1K_V1')\"",
                RandomVGGWarning,
                stacklevel=4,
            )
            return False
        state = read_torch_file(path, f"{name} weights file")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")} or dict(state)
        keep = {k: v for k, v in feats.items() if int(k.split(".")[0]) < len(self.features)}
        missing, _ = self.features.load_state_dict(keep, strict=False)
        if missing:
            raise ValueError(f"{self.owner}: '{path}' is not a {name} state dict: missing {missing}")
        return True

    def train(self, mode: bool = True) -> VGGFeatures:
        self.training = mode
        self.features.eval()  # frozen: never switches to training mode
        return self

    def forward(self, rgb: Tensor) -> list[Tensor]:
        x = (rgb - self.mean) / self.std
        found: dict[int, Tensor] = {}
        for i, m in enumerate(self.features):
            x = m(x)
            if i in self.outputs:
                found[i] = x
        return [found[i] for i in self.outputs]


def feature_mse(vgg: VGGFeatures, pred: Tensor, target: Tensor) -> Tensor:
    """Mean over the extractor's layers of ``mse(VGG(pred), VGG(target))``; the target's features are
    computed without a graph."""
    import torch.nn.functional as F

    with torch.no_grad():
        ref = vgg(target)
    return torch.stack([F.mse_loss(a, b) for a, b in zip(vgg(pred), ref)]).mean()


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "RandomVGGWarning", "VGGFeatures", "feature_mse",
           "torchvision_vgg_cache", "vgg_layer_names"]
