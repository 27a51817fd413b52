#!/usr/bin/env bash
# Model 11 (shipped as the sixth default model): the 256 px fine-tune of the residual fusion with lambda 0.6, 125 steps
NAME=fusion_res256_06 STEPS=125 REB=0.6 EVAL=fres256_06 exec "$(dirname "$0")/fusion_res256.sh"
