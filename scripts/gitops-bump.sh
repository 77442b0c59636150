#!/usr/bin/env bash
# GitOps bump: set the model's platform.version to a released image tag, regenerate every artifact
# from the model and commit, so Argo CD rolls the new image out. Usage: scripts/gitops-bump.sh 0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
new="${1:?usage: scripts/gitops-bump.sh VERSION}"
[[ "$new" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.]+)?$ ]] || { echo "not a release version: $new" >&2; exit 2; }
py=.venv/bin/python
[ -x "$py" ] || py=python3
# platform.version is the first two-space-indented `version:` key of the model file.
sed -i -E "0,/^  version: .*/s//  version: ${new}/" model/netshop.yaml
got="$("$py" -c 'from model import load_file; print(load_file("model/netshop.yaml").model.platform.version)')"
[ "$got" = "$new" ] || { echo "bump failed: model says platform.version=$got" >&2; git checkout -- model/netshop.yaml; exit 1; }
"$py" -m netshop.cli generate
git add model/netshop.yaml generated
git commit -m "release: platform version ${new} (GitOps bump)"
