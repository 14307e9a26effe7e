#!/usr/bin/env bash
# The package as a user gets it: `npm pack` makes the tarball, a new app installs it as a
# dependency (its install step compiles the addon there), and the app loads a generated model and
# predicts, through `import`, `require()` and the `crossencoder` CLI. Then `npx crossencoder` in
# this clone must not rebuild the addon. Run from the root of a clone after `npm install` and
# `npm test` (which generates test/.models). Takes a few minutes: most of it is the compile.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

model="$PWD/test/.models/tiny"
[[ -f $model/config.json ]] || { echo "packed-install: $model is missing: run npm test first" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "packed-install: npm pack"
tarball="$scratch/$(npm pack --silent --pack-destination "$scratch" | tail -n 1)"
[[ -f $tarball ]] || { echo "packed-install: npm pack wrote no tarball" >&2; exit 1; }

echo "packed-install: installing $(basename "$tarball") into a new app (compiles the addon)"
app="$scratch/app"
mkdir "$app"
(cd "$app" && npm init -y >/dev/null)
started=$SECONDS
(cd "$app" && npm install --no-audit --no-fund --foreground-scripts "$tarball")
echo "packed-install: installed in $((SECONDS - started)) s"
[[ -f $app/node_modules/torch-crossencoder/build/Release/torch_crossencoder.node ]] ||
  { echo "packed-install: the installed package has no addon" >&2; exit 1; }

cat >"$app/score.mjs" <<'EOF'
import { CrossEncoder } from 'torch-crossencoder';

const model = await CrossEncoder.fromPretrained(process.argv[2], { numLabels: 1 });
const scores = await model.predict([
  ['How many people live in Berlin?', 'Berlin had a population of 3,520,031 registered inhabitants.'],
  ['How many people live in Berlin?', 'Berlin is well known for its museums.'],
]);
if (!(scores instanceof Float32Array) || scores.length !== 2 || !scores.every(Number.isFinite)) {
  throw new Error(`unexpected scores: ${scores}`);
}
console.log(`packed-install: import predicted ${Array.from(scores, (s) => s.toFixed(4)).join(', ')}`);
await model.dispose();
EOF
(cd "$app" && node score.mjs "$model")

(cd "$app" && node -e '
const { CrossEncoder } = require("torch-crossencoder");
CrossEncoder.fromPretrained(process.argv[1], { numLabels: 1 })
  .then((model) => model.predict([["q", "d"]]).then((scores) => { console.log(`packed-install: require() predicted ${scores[0].toFixed(4)}`); return model.dispose(); }))
  .catch((error) => { console.error(error); process.exit(1); });
' "$model")

printf '{"query": "q", "document": "d"}\n{"query": "q", "document": "e"}\n' >"$app/pairs.jsonl"
cli_scores=$(cd "$app" && npx --no-install crossencoder predict --model "$model" --input pairs.jsonl)
[[ $(grep -c '^{"score":' <<<"$cli_scores") == 2 ]] || { echo "packed-install: the CLI printed: $cli_scores" >&2; exit 1; }
version=$(cd "$app" && npx --no-install crossencoder --version)
[[ $version == $(node -p 'require("./package.json").version') ]] || { echo "packed-install: --version printed $version" >&2; exit 1; }
echo "packed-install: npx crossencoder predict and --version work in the app"

echo "packed-install: npx crossencoder in this clone must not rebuild the addon"
addon=build/Release/torch_crossencoder.node
before=$(sha256sum "$addon")
started=$SECONDS
npx_output=$(npx --yes --cache "$scratch/npx-cache" --foreground-scripts crossencoder --version 2>&1)
echo "$npx_output"
[[ $(sha256sum "$addon") == "$before" ]] || { echo "packed-install: npx crossencoder replaced the addon" >&2; exit 1; }
if grep -q 'built build/Release' <<<"$npx_output"; then echo "packed-install: npx crossencoder rebuilt the addon" >&2; exit 1; fi
grep -qx "$version" <<<"$npx_output" || { echo "packed-install: npx crossencoder did not print the version" >&2; exit 1; }
echo "packed-install: ok (npx in the clone took $((SECONDS - started)) s)"
