#!/usr/bin/env bash
# Publishes the `fovea` tool as a Native AOT single binary and runs it: the demo, the gradient check and a short
# training on the committed Fashion-MNIST sample. Any publish warning, failing command or missing output fails.
# Native AOT links with clang and needs zlib's headers: on Debian they are installed here when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
out=out/aot
run_dir=out/aot-run
mkdir -p out

need=()
for pkg in clang zlib1g-dev; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Warnings are errors here too: a trim or AOT warning means code that may break in the binary.
dotnet publish src/Fovea.Cli -c Release -r linux-x64 -p:PublishAot=true -p:TreatWarningsAsErrors=true -o "$out" \
  | tee out/aot-publish.log
if grep -E 'warning (IL|CS|NU)[0-9]+' out/aot-publish.log; then echo "aot-smoke: the publish printed warnings" >&2; exit 1; fi

bin="$out/Fovea.Cli"
echo "aot-smoke: binary $(du -h "$bin" | cut -f1)"
"$bin" help >/dev/null
"$bin" demo
"$bin" gradcheck
rm -rf "$run_dir"
"$bin" train --data tests/Fovea.Vision.Tests/Data/fashion-mnist-sample --model lenet5 --limit 1000 --epochs 1 \
  --batch-size 64 --optimizer sgd --lr 0.01 --seed 1 --out "$run_dir"
for f in checkpoint.safetensors metrics.jsonl curves.png; do
  [ -s "$run_dir/$f" ] || { echo "aot-smoke: training wrote no $run_dir/$f" >&2; exit 1; }
done
# The checkpoint the binary wrote must load back (its JSON metadata goes through the generated serializers).
"$bin" eval --checkpoint "$run_dir/checkpoint.safetensors" --data tests/Fovea.Vision.Tests/Data/fashion-mnist-sample
echo "aot-smoke: ok"
