#!/usr/bin/env bash
# One GPU check, <= 8 minutes on one H100, no network: GPU tests, the PyTorch CUDA runner
# sequential vs two-stream (batch 1/8/32, FP32/FP16), and the bench harness's GPU rows.
# Usage (repo root): bash benchmarks/gpu_check.sh [RESULTS_DIR]   (default: $OUT or benchmarks/results)
set -uo pipefail
cd "$(dirname "$0")/.."
RES=${1:-${OUT:-benchmarks/results}}
mkdir -p "$RES"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$RES/gpu-info.txt"
# pycuda wheel for the GPU machine, if carried (see ../shared/wheels/README.md)
if [ -d .wheels-gpu ]; then
  t=$(mktemp -d); python3 -m pip install -q --no-index --no-deps --target "$t" .wheels-gpu/*.whl && export PYTHONPATH="$PYTHONPATH:$t"
  python3 -c "import pycuda.driver as cuda; cuda.init(); print('pycuda ok:', cuda.Device(0).name())" || echo "pycuda failed"
fi
timeout 180 python3 -m pytest -q -m gpu tests 2>&1 | tee "$RES/gpu-tests.log"
timeout 240 python3 benchmarks/gpu_pipeline.py --out "$RES" --iters 30 2>&1 | tee "$RES/gpu-pipeline.log"
timeout 120 python3 -m paracolor.cli bench --backend torch,onnxruntime --precision fp32,fp16 --batch-size 1,8 --schedule sequential,parallel \
  --cuda-graphs off --num 64 -o "$RES" --tag "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')" 2>&1 | tail -30
echo "results in $RES"
