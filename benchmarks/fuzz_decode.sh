#!/usr/bin/env bash
# A longer run of the decoder fuzz test than CI's (60 examples): bad bytes must give ImageError,
# never a crash or another exception. Usage: bash benchmarks/fuzz_decode.sh [EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
PARACOLOR_FUZZ_EXAMPLES=${1:-5000} python -m pytest -q tests/engine/test_reliability.py -k fuzz -p no:cacheprovider
