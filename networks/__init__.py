"""Pure ``nn.Module``s (torch, timm, smp only; no Lightning): architectures, shared blocks, losses."""
