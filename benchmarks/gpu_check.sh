#!/usr/bin/env bash
# The GPU checks in one prepared run, for a machine with an NVIDIA GPU
# (about 15 minutes of device time in all: run this once, read, give the machine back).
#
# On the development machine, from the project root, once:
#   bash ../shared/device/fetch-wheels.sh                       # scikit-survival & co -> .whl/
#   python3 -m pip download -q --no-deps -d .whl pytest pluggy iniconfig packaging
# Then the device tool's run with
#   command: bash benchmarks/gpu_check.sh      carry: [".whl"]      timeout_s: 600
#
# What it does (each step under its own time limit; all output under $OUT):
#   1. installs the carried wheels into .site (the machine's own torch is kept);
#   2. the CUDA tests (tests/test_cuda.py: placement, determinism, pickling, bf16)
#      and the stacking tests (tests/test_stacking.py) on the GPU machine's CPU;
#   3. benchmarks/speed.py section e on CUDA (five members at once against one member, and
#      the default fit; one repeat), then section a at n = 100,000
#      on CUDA and on 2 CPU threads of the same machine (the throughput ratio of the issue).
# Copy the figures into docs/speed.md (section 4).
set -uo pipefail
out=${OUT:-gpu_out}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .site .whl/*.whl \
  > "$out/install.txt" 2>&1 || { cat "$out/install.txt"; exit 1; }
export PYTHONPATH=$PWD/.site:$PWD
{ nvidia-smi; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"; } > "$out/machine.txt" 2>&1

timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_stacking.py > "$out/tests.txt" 2>&1
echo "pytest exit $?" >> "$out/tests.txt"
tail -3 "$out/tests.txt"

# the stacking target first (K members on CUDA at most 1.5x one member's), then the ratio
timeout 180 python3 benchmarks/speed.py --device cuda --sections e --repeats 1 --out "$out/speed_members.json" \
  > "$out/speed_members.txt" 2>&1
echo "speed.py e exit $?" >> "$out/speed_members.txt"
tail -12 "$out/speed_members.txt"
timeout 240 python3 benchmarks/speed.py --device both --threads 2 --sections a --sizes 100000 --large-epochs 1 \
  --out "$out/speed_throughput.json" > "$out/speed_throughput.txt" 2>&1
echo "speed.py a exit $?" >> "$out/speed_throughput.txt"
tail -12 "$out/speed_throughput.txt"
