"""LightningModules (one per method), losses, metrics, callbacks and the ``semcolor`` CLI."""
