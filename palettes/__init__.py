"""Palette machinery shared by the palette-based methods (pure numpy/torch, no Lightning).

* :mod:`~semcolor.palettes.naming`: the 11-term colour-naming model (van de Weijer et al. 2009 table).
* :mod:`~semcolor.palettes.color`: sRGB <-> CIELAB for channel-last numpy images (wraps
  :mod:`semcolor.colorspace`).
* :mod:`~semcolor.palettes.kmeans`: weighted k-means, :class:`Palette` and the source palette of an image.
* :mod:`~semcolor.palettes.recolor`: palette-based recolouring by inverse-distance weights (Eq. 4.1-4.2).
* :mod:`~semcolor.palettes.group`: the group palette of a collection and source -> group matching.
* :mod:`~semcolor.palettes.white_balance`, :mod:`~semcolor.palettes.saliency`: the high-level modules of
  Xue 2025 (thesis), ch. 3; :mod:`~semcolor.palettes.pipeline` puts them together.
"""
