"""Evaluation: the paper's metrics (FID, PSNR, SSIM, colourfulness, LPIPS) and Table I rows."""
