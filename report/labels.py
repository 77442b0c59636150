"""Everything an edition says outside its chapters: table captions and headers, figure and table words,
chapter titles, tier and capability names, and how it writes numbers.

Identifiers (service names, ports, routes, queues) are never translated; they stay Latin in both editions.
"""

from __future__ import annotations

from dataclasses import dataclass

PERSIAN_DIGITS = str.maketrans("0123456789.%", "۰۱۲۳۴۵۶۷۸۹٫٪")

# Chapter keys in reading order; each edition has chapters/<lang>/<key>.html and a title below.
CHAPTERS = [
    "motivation", "architecture", "flows", "networking", "mesh", "observability", "ha-data", "gitops",
    "supply-chain", "clouds", "deployment", "verification", "catalogue",
]


@dataclass(frozen=True)
class Labels:
    lang: str
    dir: str
    title: str
    subtitle: str
    contents: str
    list_of_figures: str
    list_of_tables: str
    figure_word: str
    table_word: str
    chapter_word: str
    chapter_titles: dict[str, str]
    tiers: dict[str, str]
    capabilities: dict[str, str]
    headers: dict[str, str]
    captions: dict[str, str]
    words: dict[str, str]

    def __getattr__(self, name: str) -> str:
        # h_* are column headers, t_* table captions; anything else is a word
        if name.startswith("h_"):
            return self.headers[name[2:]]
        if name.startswith("t_"):
            return self.captions[name[2:]]
        try:
            return self.words[name]
        except KeyError:
            raise AttributeError(name) from None

    def tier(self, name: str) -> str:
        return self.tiers.get(name, name)

    def capability(self, cid: str, title: str) -> str:
        return self.capabilities.get(cid, title)

    def direction(self, policy_type: str) -> str:
        return self.ingress if policy_type == "Ingress" else self.egress

    def routes_count(self, n: int) -> str:
        return self.words["routes_count"].format(n=self.n(n))

    def n(self, value: object) -> str:
        """A number in the edition's digits."""
        s = str(value)
        return s.translate(PERSIAN_DIGITS) if self.lang == "fa" else s


EN = Labels(
    lang="en", dir="ltr",
    title="NetShop", subtitle="An event-driven online store on multi-zone Kubernetes, generated from one system model",
    contents="Contents", list_of_figures="Figures", list_of_tables="Tables",
    figure_word="Figure", table_word="Table", chapter_word="Chapter",
    chapter_titles={
        "motivation": "Motivation", "architecture": "Architecture", "flows": "Request and event flows",
        "networking": "Networking mechanics", "mesh": "The service mesh", "observability": "Observability",
        "ha-data": "Highly available data", "gitops": "GitOps delivery", "supply-chain": "Supply-chain security",
        "clouds": "Clouds and zones", "deployment": "Deployment", "verification": "Verification",
        "catalogue": "Service catalogue",
    },
    tiers={"edge": "edge", "app": "application", "worker": "worker", "data": "data"},
    capabilities={},
    headers={
        "service": "Service", "tier": "Tier", "port": "Port", "replicas": "Replicas", "datastores": "Datastores",
        "role": "Role", "datastore": "Datastore", "kind": "Engine", "image": "Image", "storage": "Volume",
        "clients": "Clients", "route": "Route", "auth": "Token", "summary": "What it does", "edge": "Edge",
        "granted": "Routes granted", "purpose": "Purpose", "event": "Event", "exchange": "Exchange",
        "routing_key": "Routing key", "producer": "Producer", "payload": "Payload fields", "consumer": "Consumer",
        "queue": "Queue", "binding": "Binding", "dlq": "Dead-letter queue", "deliveries": "Max deliveries",
        "effect": "Effect", "policy": "NetworkPolicy", "applies_to": "Pods", "direction": "Direction",
        "peer": "Peer", "ports": "Ports", "min": "Min", "max": "Max", "cpu": "CPU target", "memory": "Memory target",
        "windows": "Up / down window", "pdb": "PDB maxUnavailable", "spread": "Zone spread",
        "cpu_req": "CPU request", "cpu_lim": "CPU limit", "mem_req": "Memory request", "mem_lim": "Memory limit",
        "slo": "SLO (availability · latency · window)", "cloud": "Cloud", "region": "Region",
        "storage_class": "StorageClass", "nodes": "Nodes per zone", "ingress_class": "IngressClass",
        "ingress_source": "Ingress traffic from", "floors": "Replica floors", "flow": "Flow", "steps": "Steps",
        "touches": "Workloads", "description": "What it achieves", "capability": "Capability",
        "artifacts": "Generated artefacts", "files": "Files", "module": "Module", "tests": "Tests",
        "proves": "What it proves", "suite": "Suite", "check": "Check", "value": "Value", "target": "Target",
        "pass": "Pass", "file": "File under generated/", "kind_api": "Kind (API group)", "count": "Objects",
    },
    captions={
        "services": "The services by tier, with the data tier as one row",
        "datastores": "The data tier",
        "public_api": "The public API the gateway exposes under /api",
        "sync_edges": "Synchronous edges: who may call whom, on which routes",
        "data_edges": "Data edges, declared and implied by events",
        "events": "Events and their exchange",
        "queues": "Queues: one durable quorum queue per consumer",
        "network_policies": "The NetworkPolicies the policies family renders",
        "autoscaling": "Horizontal Pod Autoscalers, disruption budgets and zone spread",
        "resources": "Container resources and service level objectives",
        "zones": "The model's zones on each cloud",
        "clouds": "Ingress and replica floors per cloud",
        "flows": "The model's flows",
        "capabilities": "Capabilities and the generated files that implement them",
        "tests": "The test suite, module by module",
        "results": "Latest results of the proving suites",
    },
    words={
        "yes": "yes", "no": "no", "all_pods": "all pods", "deny_all": "nothing (deny all)", "ingress": "ingress",
        "egress": "egress", "model_minimum": "model minimum", "routes_count": "{n} routes",
        "figure_missing": "missing", "page": "page",
        "kinds_caption": "Objects the {family} family renders from the model",
    },
)

FA = Labels(
    lang="fa", dir="rtl",
    title="نت‌شاپ", subtitle="فروشگاهی برخط و رویدادمحور بر کوبرنتیز چندناحیه‌ای، تولیدشده از یک مدل سامانه",
    contents="فهرست مطالب", list_of_figures="فهرست شکل‌ها", list_of_tables="فهرست جدول‌ها",
    figure_word="شکل", table_word="جدول", chapter_word="فصل",
    chapter_titles={
        "motivation": "انگیزه", "architecture": "معماری", "flows": "جریان‌های درخواست و رویداد",
        "networking": "سازوکارهای شبکه", "mesh": "مش سرویس", "observability": "مشاهده‌پذیری",
        "ha-data": "داده با دسترس‌پذیری بالا", "gitops": "تحویل به روش گیت‌آپس", "supply-chain": "امنیت زنجیرهٔ تأمین",
        "clouds": "ابرها و ناحیه‌ها", "deployment": "استقرار", "verification": "راستی‌آزمایی",
        "catalogue": "کاتالوگ سرویس‌ها",
    },
    tiers={"edge": "لبه", "app": "کاربرد", "worker": "کارگر", "data": "داده"},
    capabilities={
        "zero-trust": "شبکهٔ اعتماد صفر", "mesh": "مش سرویس", "observability": "مشاهده‌پذیری",
        "ha-data": "داده با دسترس‌پذیری بالا", "gitops": "تحویل گیت‌آپس", "supply-chain": "امنیت زنجیرهٔ تأمین",
    },
    headers={
        "service": "سرویس", "tier": "لایه", "port": "درگاه", "replicas": "نسخه‌ها", "datastores": "انباره‌های داده",
        "role": "نقش (از مدل)", "datastore": "انبارهٔ داده", "kind": "موتور", "image": "ایمیج", "storage": "حجم",
        "clients": "کلاینت‌ها", "route": "مسیر", "auth": "توکن", "summary": "کارکرد (از مدل)", "edge": "یال",
        "granted": "مسیرهای مجاز", "purpose": "هدف (از مدل)", "event": "رویداد", "exchange": "اکسچنج",
        "routing_key": "کلید مسیریابی", "producer": "تولیدکننده", "payload": "فیلدهای محموله", "consumer": "مصرف‌کننده",
        "queue": "صف", "binding": "اتصال", "dlq": "صف نامه‌های مرده", "deliveries": "بیشینهٔ تحویل",
        "effect": "اثر (از مدل)", "policy": "NetworkPolicy", "applies_to": "پادها", "direction": "جهت",
        "peer": "طرف مقابل", "ports": "درگاه‌ها", "min": "کمینه", "max": "بیشینه", "cpu": "هدف CPU",
        "memory": "هدف حافظه", "windows": "پنجرهٔ افزایش / کاهش", "pdb": "PDB maxUnavailable", "spread": "پخش در ناحیه‌ها",
        "cpu_req": "درخواست CPU", "cpu_lim": "سقف CPU", "mem_req": "درخواست حافظه", "mem_lim": "سقف حافظه",
        "slo": "SLO (دسترس‌پذیری · تأخیر · پنجره)", "cloud": "ابر", "region": "منطقه",
        "storage_class": "StorageClass", "nodes": "گره در هر ناحیه", "ingress_class": "IngressClass",
        "ingress_source": "منشأ ترافیک ورودی", "floors": "کف نسخه‌ها", "flow": "جریان", "steps": "گام‌ها",
        "touches": "بارهای کاری", "description": "دستاورد (از مدل)", "capability": "قابلیت",
        "artifacts": "مصنوعات تولیدشده", "files": "فایل‌ها", "module": "ماژول", "tests": "آزمون‌ها",
        "proves": "چه چیزی را اثبات می‌کند (متن ماژول)", "suite": "مجموعه", "check": "بررسی", "value": "مقدار",
        "target": "هدف", "pass": "قبول", "file": "فایل زیر generated/", "kind_api": "نوع (گروه API)", "count": "اشیاء",
    },
    captions={
        "services": "سرویس‌ها به تفکیک لایه، با لایهٔ داده در یک سطر",
        "datastores": "لایهٔ داده",
        "public_api": "API عمومی که دروازه زیر ‎/api‎ عرضه می‌کند",
        "sync_edges": "یال‌های همگام: چه کسی، چه کسی را، با کدام مسیرها می‌تواند فراخوانی کند",
        "data_edges": "یال‌های داده، اعلام‌شده یا برآمده از رویدادها",
        "events": "رویدادها و اکسچنج آن‌ها",
        "queues": "صف‌ها: برای هر مصرف‌کننده یک صف کوئوروم پایدار",
        "network_policies": "NetworkPolicyهایی که خانوادهٔ policies تولید می‌کند",
        "autoscaling": "مقیاس‌دهی خودکار افقی، بودجهٔ اختلال و پخش در ناحیه‌ها",
        "resources": "منابع کانتینرها و اهداف سطح سرویس",
        "zones": "ناحیه‌های مدل در هر ابر",
        "clouds": "ورودی و کف نسخه‌ها در هر ابر",
        "flows": "جریان‌های مدل",
        "capabilities": "قابلیت‌ها و فایل‌های تولیدشده‌ای که آن‌ها را پیاده می‌کنند",
        "tests": "مجموعهٔ آزمون، ماژول به ماژول",
        "results": "آخرین نتایج مجموعه‌های اثبات",
    },
    words={
        "yes": "بله", "no": "خیر", "all_pods": "همهٔ پادها", "deny_all": "هیچ (منع همه)", "ingress": "ورودی",
        "egress": "خروجی", "model_minimum": "کمینهٔ مدل", "routes_count": "{n} مسیر",
        "figure_missing": "ناموجود", "page": "صفحه",
        "kinds_caption": "اشیائی که خانوادهٔ {family} از مدل تولید می‌کند",
    },
)

EDITIONS = {"en": EN, "fa": FA}
