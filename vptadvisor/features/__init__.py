"""Features: the FID Inception network (weights resolved offline) and batched, cached extraction."""
