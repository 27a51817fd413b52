#!/usr/bin/env bash
# This session's continuation: phase 1 was started by an earlier train_default.sh; phase 2 of each
# generator starts as soon as its phase 1 ends, then fusion (the same commands as the script).
cd /work/main; . .venv/bin/activate
( while kill -0 2925 2>/dev/null; do sleep 10; done; STAGES=2 ROLES=bg runs/v2/train_default.snapshot.sh ../shared/data runs/v2 ) &
( while kill -0 2924 2>/dev/null; do sleep 10; done; STAGES=2 ROLES=fg runs/v2/train_default.snapshot.sh ../shared/data runs/v2 ) &
wait
STAGES=fusion runs/v2/train_default.snapshot.sh ../shared/data runs/v2
echo PHASE2_DONE
