#!/usr/bin/env bash
# Candidate model 12: the 256 px fine-tune of the residual fusion with lambda 0.7 (between model 10's 0.8 and model 11's 0.6), 125 steps
NAME=fusion_res256_07 STEPS=125 REB=0.7 EVAL=fres256_07 exec "$(dirname "$0")/fusion_res256.sh"
