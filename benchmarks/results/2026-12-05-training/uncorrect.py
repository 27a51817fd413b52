# Rebuild the phase-3 generators' raw heads from the shipped (prior-corrected, FP16) weights:
# the correction is a bias shift (-beta log w); the prior is re-estimated exactly as training does.
import sys
from paracolor.models.checkpoint import load_model, save_model
from paracolor.train import colour_prior, data
D = "../shared/data"
dirs = {"fg": [f"{D}/train/objects", f"{D}/train/extra"], "bg": [f"{D}/train/scenes", f"{D}/train/extra"]}
for role in sys.argv[1:]:
    out = f"runs/v8/{role}3raw"
    prior = colour_prior.load_or_estimate(out, data.list_photos(dirs[role]), 0.5)
    g = load_model(f"paracolor/weights/default/checkpoints/{role}.safetensors", expect_kind="generator").float()
    colour_prior.correct_head(g, prior, -0.30)   # undo beta 0.30
    save_model(f"{out}/last.safetensors", g)
    print(role, "ok", len(prior.bins_net))
