"""One LightningModule per method (each registered in :data:`semcolor.registry.METHODS` where it is
defined) and the bases they share (:mod:`.base`: ``SemcolorModule``, ``ImageToImageModule``,
``SegmentationModule``; :mod:`.gan`: the conditional-GAN training loop). Networks come from
:mod:`semcolor.networks`, metrics from :mod:`semcolor.metrics`."""
