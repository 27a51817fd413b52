#!/usr/bin/env bash
# One GPU check, <= 10 minutes on one H100, no network: the GPU tests (CUDA layers, schedulers),
# the PyTorch CUDA runner sequential vs two-stream (batch 1/8/32, FP32/FP16, CUDA graphs off/on),
# the bench harness's torch-on-GPU rows, and the whole folder job with and without the in-flight
# overlap (issue 17; not run yet), and the video job at 480p and 1080p (issue 19; not run yet).
# Writes at most 10 files into RESULTS_DIR.
# Usage (repo root): bash benchmarks/gpu_check.sh [RESULTS_DIR]   (default: $OUT or benchmarks/results)
# Wheels the GPU machine lacks (pycuda, onnx-graphsurgeon, polygraphy) are installed from
# .wheels-gpu/ when present (git-ignored; see ../shared/wheels/README.md).
set -uo pipefail
cd "$(dirname "$0")/.."
RES=${1:-${OUT:-benchmarks/results}}
mkdir -p "$RES"
LOG="$RES/gpu-check.log"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c "import sys, torch, numpy, onnxruntime; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__, 'onnxruntime', onnxruntime.__version__)"
  python3 -c "import cuda.bindings; print('cuda-bindings', cuda.bindings.__version__)" || echo "cuda-python: not importable"
} 2>&1 | tee "$LOG" > "$RES/gpu-info.txt"
if [ -d .wheels-gpu ]; then
  t=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$t" .wheels-gpu/*.whl 2>&1 | tail -3 | tee -a "$LOG"
  export PYTHONPATH="$PYTHONPATH:$t"
  python3 -c "import pycuda.driver as cuda; cuda.init(); print('pycuda ok:', cuda.Device(0).name())" 2>&1 | tee -a "$LOG"
fi
section() { echo; echo "== $1 ($(date -u +%T))"; }
{
  section "GPU tests"
  timeout 120 python3 -m pytest -q -rs -p no:cacheprovider -m gpu tests/engine tests/models
  section "PyTorch CUDA runner: sequential vs two-stream"
  timeout 180 python3 benchmarks/gpu_pipeline.py --out "$RES" --iters 50
  section "bench harness (torch on the GPU)"
  tag=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')
  b=$(mktemp -d)
  timeout 100 python3 -m paracolor.cli bench --backend torch --precision fp32,fp16 --batch-size 1,8 --schedule sequential,parallel \
    --cuda-graphs off,on --num 64 -o "$b" --tag "$tag" 2>&1 | tail -30
  cp "$b"/*.json "$b"/*.md "$b"/*.png "$RES"/ 2>/dev/null
  section "folder job: one batch in flight vs none (torch FP16 on the GPU, 1920x1080 photos)"
  timeout 150 python3 benchmarks/pipeline_overlap.py --backend torch --precision fp16 --cuda-graphs \
    --photos 128 --batch-size 8,32 --rounds 3 --out "$RES" --tag "$tag"
  section "video job on the GPU: torch FP16 networks, PyAV decode/encode on the CPU, 480p and 1080p (issue 19; not run yet)"
  if python3 -c "import av" 2>/dev/null; then
    v=$(mktemp -d)
    timeout 120 python3 -m paracolor.cli bench --backend torch --precision fp32,fp16 --batch-size 8 --schedule parallel --cuda-graphs off \
      --num 16 --video 480,1080 --video-frames 96 -o "$v" --tag "$tag-video" 2>&1 | tail -12
    cp "$v"/*.json "$v"/*.md "$RES"/ 2>/dev/null
  else
    echo "PyAV not importable (pip install av, or put its wheel in .wheels-gpu/): video section skipped"
  fi
  section "done"
} 2>&1 | tee -a "$LOG"
echo "results in $RES"
