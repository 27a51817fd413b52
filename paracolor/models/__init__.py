"""PyTorch models of ParaColorizer (torch): ResUNet generators, PatchGAN, DenseFuse.

``paracolor.models.config`` is plain Python (no torch) so the engine can read model
configurations from metadata; the other modules import torch.
"""
