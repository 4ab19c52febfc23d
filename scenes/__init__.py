"""Whole-scene inference: a GeoTIFF scene in, a seamlessly blended GeoTIFF out, memory flat in scene size.

* :mod:`.datamodule`: the scene as overlapping windows (``SceneDataModule``), the grid and its rank plans
* :mod:`.writer`: the ``SceneWriter`` prediction callback (blend, write tiled / COG, resume, DDP merge)
* :mod:`.resume`: the sidecar store of finished rows that makes a stopped run resumable
* :mod:`.blending`: window weights (linear, cosine, Hann, none)
* :mod:`.stitching`: tile grids stitched in memory (SECBNet's Algorithm 1) and their scores
* :mod:`.seams`: the seam ratio and scene scores of written rasters (``python -m semcolor.scenes.seams``)
* :mod:`.mosaic_consistency`: colour jumps between independently rendered tiles (s2color's claim)
"""
