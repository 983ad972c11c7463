"""Names of the VGG19 layers and their positions in torchvision's `vgg19().features`."""
from __future__ import annotations

# (name, index in torchvision's vgg19().features)
_BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))


def _build() -> list[str]:
    names: list[str] = []
    for block, convs in _BLOCKS:
        for c in range(1, convs + 1):
            names += [f"conv{block}_{c}", f"relu{block}_{c}"]
        names.append(f"pool{block}")
    return names


#: Output channels of every conv in each block.
BLOCK_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}

#: Every module of torchvision's `vgg19().features`, in order (37 of them).
LAYER_NAMES: tuple[str, ...] = tuple(_build())
LAYER_INDEX: dict[str, int] = {name: i for i, name in enumerate(LAYER_NAMES)}
#: The 16 convolutions in order, as the bundled weights name them (`block{b}_conv{c}`).
CONV_INDICES: tuple[int, ...] = tuple(i for i, n in enumerate(LAYER_NAMES) if n.startswith("conv"))
#: The layers a loss may use: every ReLU output (relu1_1 ... relu5_4).
FEATURE_LAYERS: tuple[str, ...] = tuple(n for n in LAYER_NAMES if n.startswith("relu"))


def pooling_depth(layer: str) -> int:
    """How many poolings come before `layer` (relu4_2 -> 3)."""
    return int(layer[4]) - 1


def stride(layer: str) -> int:
    """Input pixels per feature position at `layer` (relu4_2 -> 8)."""
    return 2 ** pooling_depth(layer)


def reach(layer: str) -> int:
    """How far (pixels) beyond its own cell of `stride` x `stride` input pixels a feature at
    `layer` sees: each 3x3 convolution adds one position of its own stride on every side;
    the 2x2 poolings, aligned with the cells, add nothing. relu5_1: 70 px."""
    total, step = 0, 1
    for name in LAYER_NAMES[: LAYER_INDEX[layer] + 1]:
        if name.startswith("conv"):
            total += step
        elif name.startswith("pool"):
            step *= 2
    return total


def tile_margin(layers) -> int:
    """The margin a tile of the picture needs around the part it owns so that the features
    of `layers` there equal the whole picture's: the deepest layer's reach, rounded up to its
    stride so that every layer's grid stays aligned with the whole picture's."""
    deepest = max(layers, key=lambda n: LAYER_INDEX[n])
    align = max(stride(n) for n in layers)
    return -(-reach(deepest) // align) * align
