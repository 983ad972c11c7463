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
