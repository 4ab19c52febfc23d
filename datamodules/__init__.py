"""Datasets in their released on-disk layouts and their DataModules (each registered in
:data:`semcolor.registry.DATASETS`), the embedded generated datasets, shared readers (:mod:`.io`,
:mod:`.raster`) and paired augmentations (:mod:`.transforms`)."""
