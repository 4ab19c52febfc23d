"""Whole-scene inference: a GeoTIFF scene in, a seamlessly blended GeoTIFF out, memory flat in scene size.

* :mod:`.datamodule`: the scene as overlapping windows (``SceneDataModule``), the grid and its rank plans
* :mod:`.writer`: the ``SceneWriter`` prediction callback, composing the three below
* :mod:`.accumulator`: blend weights and weighted sums in a strip, finished into final rows
* :mod:`.sink`: the GeoTIFF end (values and nodata, tiled / COG profile, block rows, temp file + rename, DDP merge)
* :mod:`.resume`: the store of finished rows (chunk files, manifest) that makes a stopped run resumable
* :mod:`.blending`: window weights (linear, cosine, Hann, none)
* :mod:`.stitching`: tile grids stitched in memory (SECBNet's Algorithm 1) and their scores
* :mod:`.seams`: the seam ratio and scene scores of written rasters (``python -m semcolor.scenes.seams``)
* :mod:`.mosaic_consistency`: colour jumps between independently rendered tiles (s2color's claim)
"""
