"""The figures printed in Table 2.2 and Sec. 2.4.4 of Xue 2025 (thesis), as data for tests and benchmarks.

Table 2.2 (Cityscapes val, 1024x2048): per network and width, the independent model's mIoU and
parameters (M), the slimmable model's mIoU, and FLOPs in GMac (ptflops; Sec. 2.4.3 names the unit).
Read from the OCR text in ``../shared/seeds/003_*.txt``.  The "Slimmable Param" column (one value per
network) is garbled there except where noted.  Our counts and the three entries that cannot be met as
printed are documented in :mod:`semcolor.networks.slimmable`.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["SLIM_SFNET_R50_FPS_2080TI", "TABLE_2_2", "Table22Row"]


class Table22Row(NamedTuple):
    widths: tuple[float, ...]
    params_m: tuple[float, ...]  # independent model of each width
    gmac: tuple[float, ...]
    miou_independent: tuple[float, ...]
    miou_slimmable: tuple[float, ...]
    slimmable_params_m: float | None  # the single slimmable model (all widths); None where illegible


_W = (1.0, 0.75, 0.5, 0.25)

TABLE_2_2: dict[str, Table22Row] = {
    "sfnet_r50": Table22Row(_W, (31.20, 17.57, 7.82, 1.97), (607.9, 343.4, 153.9, 39.4),
                            (78.3, 77.3, 76.3, 73.2), (78.4, 77.9, 77.4, 74.4), None),
    "sfnet_r18": Table22Row(_W, (12.87, 7.24, 3.22, 0.79), (243.4, 137.4, 61.5, 15.7),
                            (75.0, 74.0, 71.4, 65.5), (75.6, 74.8, 72.5, 67.3), None),
    "sfnet_dfnetv2": Table22Row(_W, (17.88, 10.06, 4.48, 1.12), (80.2, 45.2, 20.2, 5.2),
                                (73.6, 71.4, 70.0, 62.5), (73.1, 71.1, 69.8, 64.2), 17.91),
    # slimmable params: the OCR shows "0.44" (next to "9 1 1"), read as 8.44 with the leading digit lost --
    # also what the row's architecture gives (8.438 M, tests/networks/test_slimmable_dfnet.py)
    "sfnet_dfnetv1": Table22Row(_W, (8.42, 4.74, 2.11, 0.52), (32.8, 18.6, 8.4, 2.2),
                                (70.0, 67.8, 65.0, 57.8), (69.4, 67.0, 65.3, 59.8), 8.44),
    "deeplabv3plus_r50": Table22Row(_W, (40.35, 22.71, 10.11, 2.54), (1463.0, 824.3, 347.6, 92.9),
                                    (78.0, 77.6, 76.7, 74.0), (78.4, 78.2, 77.6, 75.6), 40.44),
    "deeplabv3plus_mbv2": Table22Row((1.0, 0.75, 0.5, 0.35), (4.53, 2.57, 1.16, 0.57), (18.5, 12.2, 5.7, 3.3),
                                     (66.9, 63.3, 58.6, 56.1), (67.9, 67.0, 64.3, 61.1), None),
}

#: Slim-SFNet-ResNet50 FPS at 1024x2048 on one GeForce 2080Ti (CUDA 10.1, no TensorRT), Sec. 2.4.4
SLIM_SFNET_R50_FPS_2080TI: dict[float, float] = {1.0: 9.0, 0.75: 13.2, 0.5: 23.8, 0.25: 46.2}
