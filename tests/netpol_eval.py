"""An independent Kubernetes NetworkPolicy evaluator, written from the API reference.

It reads plain YAML objects (NetworkPolicies, Namespaces, and Pods or the workloads that own pod
templates) and answers which connections the policies allow. It deliberately shares no code with
`generators/`: it only parses YAML, so a bug in the generators cannot hide itself here.

Semantics (networking.k8s.io/v1, https://kubernetes.io/docs/concepts/services-networking/network-policies/):
- A policy applies to the pods its `podSelector` selects in its own namespace (`{}` selects all).
- `policyTypes` defaults to `["Ingress"]`, plus `"Egress"` when the spec has an `egress` section.
- A pod is isolated for a direction only if some policy selects it and lists that direction; an
  isolated pod accepts exactly the union of the rules of the policies that select it. A policy with
  the direction but no rules for it allows nothing (that is how a default deny works).
- A rule with no `from`/`to` matches every peer; a rule with no `ports` matches every port.
- A peer with only `podSelector` selects pods in the policy's namespace; with only
  `namespaceSelector`, every pod in the selected namespaces; with both, the selected pods in the
  selected namespaces. Namespaces carry the automatic `kubernetes.io/metadata.name` label.
- `ipBlock` (cidr minus `except`) matches addresses outside the cluster. Whether it also matches pod
  IPs is implementation-defined in Kubernetes; like network-config-analyzer, this evaluator treats
  pods and the outside world as disjoint. IPv4 only.
- A port entry has `protocol` (default TCP), an optional `port` (number, or a named container port
  of the destination pod) and an optional `endPort`; no `port` means every port of the protocol.
- A connection between two pods is allowed only if the source's egress AND the target's ingress
  allow it; traffic from or to the outside world is judged by the pod's side alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_PORT = 65535
IP_SPACE = (0, 2**32 - 1)
NS_NAME_LABEL = "kubernetes.io/metadata.name"
EXTERNAL = "ip:"


# --------------------------------------------------------------------------- port sets


@dataclass(frozen=True)
class Ports:
    """A set of (protocol, port) as merged, sorted port intervals per protocol."""

    ranges: tuple[tuple[str, int, int], ...] = ()

    @classmethod
    def of(cls, items: Iterable[tuple[str, int, int]]) -> Ports:
        merged: list[list] = []
        for proto, lo, hi in sorted(items):
            if merged and merged[-1][0] == proto and lo <= merged[-1][2] + 1:
                merged[-1][2] = max(merged[-1][2], hi)
            else:
                merged.append([proto, lo, hi])
        return cls(tuple((p, lo, hi) for p, lo, hi in merged))

    @classmethod
    def all(cls) -> Ports:
        return cls.of((p, 1, MAX_PORT) for p in PROTOCOLS)

    @classmethod
    def single(cls, proto: str, *ports: int) -> Ports:
        return cls.of((proto, p, p) for p in ports)

    def __or__(self, other: Ports) -> Ports:
        return Ports.of(self.ranges + other.ranges)

    def __and__(self, other: Ports) -> Ports:
        out = []
        for p1, lo1, hi1 in self.ranges:
            for p2, lo2, hi2 in other.ranges:
                if p1 == p2 and max(lo1, lo2) <= min(hi1, hi2):
                    out.append((p1, max(lo1, lo2), min(hi1, hi2)))
        return Ports.of(out)

    def __sub__(self, other: Ports) -> Ports:
        out = []
        for proto, lo, hi in self.ranges:
            pieces = [(lo, hi)]
            for p2, lo2, hi2 in other.ranges:
                if p2 != proto:
                    continue
                pieces = [
                    part
                    for plo, phi in pieces
                    for part in ((plo, min(phi, lo2 - 1)), (max(plo, hi2 + 1), phi))
                    if part[0] <= part[1]
                ]
            out += [(proto, a, b) for a, b in pieces]
        return Ports.of(out)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __str__(self) -> str:
        if self == Ports.all():
            return "all"
        return ", ".join(f"{p} {lo}" if lo == hi else f"{p} {lo}-{hi}" for p, lo, hi in self.ranges) or "none"


Connectivity = dict[tuple[str, str], Ports]
"""(source, target) -> allowed ports. Pods are `namespace/name`; address ranges are `ip:<first>-<last>`."""


# --------------------------------------------------------------------------- address ranges


def ip_range(text: str) -> tuple[int, int]:
    """`10.0.0.0/8`, `10.0.0.1` or `10.0.0.0-10.255.255.255` as an inclusive integer interval."""
    if "-" in text:
        lo, hi = text.split("-", 1)
        return int(ipaddress.IPv4Address(lo)), int(ipaddress.IPv4Address(hi))
    net = ipaddress.ip_network(text, strict=False)
    if net.version != 4:
        raise ValueError(f"IPv6 block {text} is outside what this evaluator models")
    return int(net.network_address), int(net.broadcast_address)


def ip_key(lo: int, hi: int) -> str:
    return f"{EXTERNAL}{ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(hi)}"


def normalize(conn: Connectivity) -> Connectivity:
    """Canonical form: drop empty entries, and for each pod re-cut its address ranges into maximal
    ranges with equal ports, so two analyses that split the address space differently compare equal."""
    pods: Connectivity = {}
    external: dict[tuple[str, str], list[tuple[int, int, Ports]]] = {}
    for (src, dst), ports in conn.items():
        if not ports:
            continue
        if src.startswith(EXTERNAL) and dst.startswith(EXTERNAL):
            raise ValueError(f"{src} => {dst}: traffic between outside addresses is not a cluster fact")
        if src.startswith(EXTERNAL):
            external.setdefault((dst, "from"), []).append((*ip_range(src[len(EXTERNAL):]), ports))
        elif dst.startswith(EXTERNAL):
            external.setdefault((src, "to"), []).append((*ip_range(dst[len(EXTERNAL):]), ports))
        else:
            pods[(src, dst)] = pods.get((src, dst), Ports()) | ports
    for (pod, direction), pieces in external.items():
        cuts = sorted({lo for lo, _, _ in pieces} | {hi + 1 for _, hi, _ in pieces})
        segments: list[list] = []
        for lo, nxt in zip(cuts, cuts[1:]):
            ports = Ports()
            for plo, phi, pports in pieces:
                if plo <= lo <= phi:
                    ports |= pports
            if not ports:
                continue
            if segments and segments[-1][1] + 1 == lo and segments[-1][2] == ports:
                segments[-1][1] = nxt - 1
            else:
                segments.append([lo, nxt - 1, ports])
        for lo, hi, ports in segments:
            key = (ip_key(lo, hi), pod) if direction == "from" else (pod, ip_key(lo, hi))
            pods[key] = ports
    return dict(sorted(pods.items()))


# --------------------------------------------------------------------------- cluster objects


@dataclass(frozen=True)
class Pod:
    """One representative pod of a workload: where it runs, its labels and its named ports."""

    namespace: str
    name: str
    labels: dict[str, str]
    named_ports: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    spec: dict

    @property
    def types(self) -> set[str]:
        declared = self.spec.get("policyTypes")
        if declared:
            return set(declared)
        return {"Ingress", "Egress"} if "egress" in self.spec else {"Ingress"}


def _pod_template(obj: dict) -> dict | None:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return {"metadata": obj.get("metadata") or {}, "spec": spec}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}:
        return spec.get("template")
    return None


class Cluster:
    """Namespaces, pods and NetworkPolicies read from YAML objects."""

    def __init__(self, objects: Iterable[dict]):
        self.namespaces: dict[str, dict[str, str]] = {}
        self.pods: list[Pod] = []
        self.policies: list[Policy] = []
        self._selected: dict[tuple[str, str], list[Policy]] = {}
        for obj in _flatten(objects):
            meta = obj.get("metadata") or {}
            kind = obj.get("kind")
            if kind == "Namespace":
                self.namespaces[meta["name"]] = {**(meta.get("labels") or {}), NS_NAME_LABEL: meta["name"]}
            elif kind == "NetworkPolicy":
                self.policies.append(Policy(meta.get("namespace", "default"), meta["name"], obj.get("spec") or {}))
            elif (template := _pod_template(obj)) is not None:
                tmeta, tspec = template.get("metadata") or {}, template.get("spec") or {}
                named = {
                    p["name"]: (p.get("protocol", "TCP"), p["containerPort"])
                    for c in tspec.get("containers") or []
                    for p in c.get("ports") or []
                    if p.get("name")
                }
                self.pods.append(Pod(meta.get("namespace", "default"), meta["name"], dict(tmeta.get("labels") or {}), named))
        for pod in self.pods:
            self.namespaces.setdefault(pod.namespace, {NS_NAME_LABEL: pod.namespace})
        keys = [p.key for p in self.pods]
        if len(keys) != len(set(keys)):
            raise ValueError(f"two workloads share a name: {sorted(k for k in keys if keys.count(k) > 1)}")

    @classmethod
    def from_yaml(cls, *texts: str) -> Cluster:
        return cls(doc for text in texts for doc in yaml.safe_load_all(text) if doc)

    # -- selection --

    def _selecting(self, pod: Pod, direction: str) -> list[Policy]:
        key = (pod.key, direction)
        if key not in self._selected:
            self._selected[key] = [
                p for p in self.policies
                if p.namespace == pod.namespace and direction in p.types and selects(p.spec.get("podSelector") or {}, pod.labels)
            ]
        return self._selected[key]

    def _peer_matches(self, peer: dict, policy_ns: str, other: Pod | int) -> bool:
        if not peer:
            raise ValueError("a NetworkPolicyPeer needs podSelector, namespaceSelector or ipBlock")
        if "ipBlock" in peer:
            if "podSelector" in peer or "namespaceSelector" in peer:
                raise ValueError("ipBlock cannot be combined with selectors in one peer")
            if isinstance(other, Pod):
                return False
            lo, hi = ip_range(peer["ipBlock"]["cidr"])
            excluded = [ip_range(x) for x in peer["ipBlock"].get("except") or []]
            return lo <= other <= hi and not any(elo <= other <= ehi for elo, ehi in excluded)
        if not isinstance(other, Pod):
            return False
        if "namespaceSelector" in peer:
            ns_ok = selects(peer["namespaceSelector"] or {}, self.namespaces[other.namespace])
        else:
            ns_ok = other.namespace == policy_ns
        return ns_ok and ("podSelector" not in peer or selects(peer["podSelector"] or {}, other.labels))

    def _allowed(self, pod: Pod, other: Pod | int, direction: str, target: Pod | None) -> Ports:
        """Ports `pod` allows in `direction` with `other`; `target` resolves named ports."""
        policies = self._selecting(pod, direction)
        if not policies:
            return Ports.all()
        rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        allowed = Ports()
        for policy in policies:
            for rule in policy.spec.get(rules_key) or []:
                peers = rule.get(peers_key) or []
                if peers and not any(self._peer_matches(peer, policy.namespace, other) for peer in peers):
                    continue
                allowed |= rule_ports(rule.get("ports") or [], target)
        return allowed

    # -- answers --

    def allowed(self, src: Pod, dst: Pod) -> Ports:
        """Ports on which `src` may open a connection to `dst`."""
        return self._allowed(src, dst, "Egress", dst) & self._allowed(dst, src, "Ingress", dst)

    def _address_cuts(self) -> list[int]:
        cuts = {IP_SPACE[0], IP_SPACE[1] + 1}
        for policy in self.policies:
            for key, peers_key in (("ingress", "from"), ("egress", "to")):
                for rule in policy.spec.get(key) or []:
                    for peer in rule.get(peers_key) or []:
                        block = peer.get("ipBlock")
                        if block:
                            for text in [block["cidr"], *(block.get("except") or [])]:
                                lo, hi = ip_range(text)
                                cuts |= {lo, hi + 1}
        return sorted(cuts)

    def connectivity(self, namespaces: set[str] | None = None) -> Connectivity:
        """Every allowed connection that touches a pod in `namespaces` (default: all), normalized."""
        focus = lambda pod: namespaces is None or pod.namespace in namespaces  # noqa: E731
        conn: Connectivity = {}
        for src in self.pods:
            for dst in self.pods:
                if src is not dst and (focus(src) or focus(dst)):
                    conn[(src.key, dst.key)] = self.allowed(src, dst)
        cuts = self._address_cuts()
        for pod in filter(focus, self.pods):
            for lo, nxt in zip(cuts, cuts[1:]):
                conn[(pod.key, ip_key(lo, nxt - 1))] = self._allowed(pod, lo, "Egress", None)
                conn[(ip_key(lo, nxt - 1), pod.key)] = self._allowed(pod, lo, "Ingress", pod)
        return normalize(conn)


# --------------------------------------------------------------------------- selectors and ports


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector: matchLabels AND every matchExpression; `{}` selects everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            raise ValueError(f"unknown label selector operator {op!r}")
        if not ok:
            return False
    return True


def rule_ports(entries: list[dict], target: Pod | None) -> Ports:
    """The ports of one rule; named ports resolve against the destination pod's container ports."""
    if not entries:
        return Ports.all()
    items = []
    for entry in entries:
        proto = entry.get("protocol", "TCP")
        port = entry.get("port")
        if port is None:
            items.append((proto, 1, MAX_PORT))
        elif isinstance(port, int):
            items.append((proto, port, entry.get("endPort", port)))
        elif target is not None and target.named_ports.get(port, (None, None))[0] == proto:
            number = target.named_ports[port][1]
            items.append((proto, number, number))
    return Ports.of(items)


def _flatten(objects: Iterable[dict]) -> Iterable[dict]:
    for obj in objects:
        if obj.get("kind", "").endswith("List") and "items" in obj:
            yield from _flatten(obj["items"])
        else:
            yield obj
