#!/usr/bin/env bash
# Data-parallel training across processes, on Open MPI (run by .ci/run after the test suite has built everything):
#  1. 2 ranks with batch 32 each reach the parameters of 1 process with batch 64 after 320 steps (the tolerance is
#     stated in tests/Fovea.Distributed.Tests/Equivalence.cs), both ranks bit-identical;
#  2. `fovea train --distributed` under mpirun: only rank 0 prints and writes, and a run stopped after epoch 1 and
#     resumed under mpirun ends with the same weights as the uninterrupted run (same `fovea eval` output);
#  3. the same command without mpirun: one line, exit 2.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # mpirun refuses root unless told; CI containers run as root
mpi=(mpirun -np 2 --oversubscribe)
fovea=(dotnet src/Fovea.Cli/bin/Release/net10.0/Fovea.Cli.dll)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${mpi[@]}" dotnet tests/Fovea.Distributed.Tests/bin/Release/net10.0/Fovea.Distributed.Tests.dll mpi-check

train=(--threads 1 train --distributed --data tests/Fovea.Vision.Tests/Data/fashion-mnist-sample --model fmnist_cnn_small
       --limit 256 --batch-size 16 --optimizer sgd --lr 0.05 --seed 3)
"${mpi[@]}" "${fovea[@]}" "${train[@]}" --epochs 2 --out "$work/whole" > "$work/whole.log"
[ "$(grep -c '^done: ' "$work/whole.log")" = 1 ] || { echo "expected one 'done' line (rank 0 only):"; cat "$work/whole.log"; exit 1; }
"${mpi[@]}" "${fovea[@]}" "${train[@]}" --epochs 1 --out "$work/split" > /dev/null
"${mpi[@]}" "${fovea[@]}" --threads 1 train --distributed --resume "$work/split/checkpoint.safetensors" --epochs 2 > "$work/resumed.log"
"${fovea[@]}" eval --checkpoint "$work/whole/checkpoint.safetensors" --data tests/Fovea.Vision.Tests/Data/fashion-mnist-sample > "$work/whole.eval"
"${fovea[@]}" eval --checkpoint "$work/split/checkpoint.safetensors" --data tests/Fovea.Vision.Tests/Data/fashion-mnist-sample > "$work/resumed.eval"
if ! diff <(grep -v checkpoint "$work/whole.eval") <(grep -v checkpoint "$work/resumed.eval"); then
  echo "the resumed distributed run ended elsewhere than the uninterrupted one"; exit 1
fi
echo "distributed train: uninterrupted and resumed runs agree: $(grep -m1 -i accuracy "$work/whole.eval")"

set +e
"${fovea[@]}" train --distributed --epochs 1 2> "$work/err.txt"
code=$?
set -e
[ "$code" = 2 ] && [ "$(wc -l < "$work/err.txt")" = 1 ] || { echo "without mpirun: expected one line and exit 2, got exit $code:"; cat "$work/err.txt"; exit 1; }
echo "without mpirun: $(cat "$work/err.txt")"
