"""Metrics: torchmetrics ``Metric``s (synchronised under DDP) over plain tensor functions.

* :mod:`.image`: PSNR, SSIM, CIEDE2000, ΔE in CAM16-UCS, acc@k for colorization, mIoU / pixel accuracy
  collections for segmentation.

No Lightning here: a metric is usable from any loop.
"""
