#!/usr/bin/env bash
# Builds the samples against the packed packages, as a user's app would reference them, runs them and compares what
# they print with samples/<Name>/expected.txt; then makes a brand-new console app with `dotnet new console`, adds
# Fovea.Vision from the local feed and runs the training sample as its Program.cs. Any difference fails.
#   FOVEA_VERSION   the version to pack and reference (default 0.0.0-ci)
#   FOVEA_NO_PACK=1 reuse the packages already in artifacts/packages
#   FOVEA_PACK_NO_BUILD=1 pack the Release build already made (CI's `dotnet test -c Release`) instead of building again
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=${FOVEA_VERSION:-0.0.0-ci}
feed=$root/artifacts/packages
data=$root/tests/Fovea.Vision.Tests/Data/fashion-mnist-sample
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if [ "${FOVEA_NO_PACK:-}" != 1 ]; then
  rm -f "$feed"/*.nupkg "$feed"/*.snupkg
  # Without --no-build, the new Version recompiles every project, and the next plain Release build (CI's OpenCV tests)
  # recompiles them all again.
  no_build=(); [ "${FOVEA_PACK_NO_BUILD:-}" = 1 ] && no_build=(--no-build)
  dotnet pack Fovea.sln -c Release "${no_build[@]}" -o "$feed" -p:Version="$version" -v quiet -nologo
fi
ls -l "$feed"

# A fresh package cache, as on a new machine: a Fovea package of the same version restored by an earlier run is not
# reused, and everything else comes from nuget.org.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES=$work/nuget-packages

# Lines whose figures depend on the machine (losses and accuracies per epoch) are left out of the comparison; the
# training sample itself fails when the model did not learn.
deterministic() { grep -v -E '^epoch [0-9]+:' || true; }

dotnet build samples/Samples.slnx -c Release -p:FoveaVersion="$version" -v quiet -nologo
failed=0
for project in samples/*/*.csproj; do
  dir=$(dirname "$project")
  name=$(basename "$dir")
  args=()
  [ "$name" = Training ] && args=("$data")
  echo "== sample $name"
  start=$(date +%s.%N)
  if ! dotnet "$dir/bin/Release/net10.0/$name.dll" "${args[@]}" > "$work/$name.out"; then
    cat "$work/$name.out"; echo "sample $name exited with an error"; failed=1; continue
  fi
  cat "$work/$name.out"
  printf 'ran in %.1f s\n' "$(echo "$(date +%s.%N) - $start" | bc)"
  if ! diff -u "$dir/expected.txt" <(deterministic < "$work/$name.out"); then
    echo "sample $name printed something other than $dir/expected.txt (diff above: - expected, + printed)"; failed=1
  fi
done

# A brand-new console app outside the repository: nothing of the repository's build files applies to it.
echo "== a new console app referencing Fovea.Vision $version from $feed"
app=$work/app
dotnet new console -o "$app" -v quiet >/dev/null
# The local folder as a package source beside nuget.org (which serves the dependencies), as the README describes.
dotnet new nugetconfig -o "$app" >/dev/null
dotnet nuget add source "$feed" --name fovea-local --configfile "$app/nuget.config" >/dev/null
dotnet add "$app" package Fovea.Vision --version "$version"
cp samples/Training/Program.cs "$app/Program.cs"
dotnet build "$app" -c Release -v quiet -nologo
if ! dotnet run --project "$app" -c Release --no-build -- "$data" > "$work/app.out"; then
  cat "$work/app.out"; echo "the new console app failed"; failed=1
elif ! diff -u samples/Training/expected.txt <(deterministic < "$work/app.out"); then
  echo "the new console app printed something other than samples/Training/expected.txt"; failed=1
else
  echo "the new console app ran the training sample"
fi
exit $failed
