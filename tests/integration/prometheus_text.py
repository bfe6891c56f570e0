"""A strict parser of the Prometheus text exposition format (0.0.4), for the
admin /metrics tests: everything promtool's `check metrics` refuses is refused
here too (bad names, bad label syntax or escapes, samples without a TYPE or
under another family, duplicate series, non-numeric values), plus the
histogram rules (cumulative buckets, an +Inf bucket equal to _count)."""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Invalid(Exception):
    pass


def _labels(text, line_no):
    labels = {}
    i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0:
            raise Invalid(f"line {line_no}: label without '='")
        name = text[i:eq]
        if not LABEL.match(name) or name.startswith("__"):
            raise Invalid(f"line {line_no}: bad label name {name!r}")
        if eq + 1 >= len(text) or text[eq + 1] != '"':
            raise Invalid(f"line {line_no}: label value not quoted")
        j = eq + 2
        value = []
        while True:
            if j >= len(text):
                raise Invalid(f"line {line_no}: unterminated label value")
            c = text[j]
            if c == "\\":
                nxt = text[j + 1:j + 2]
                if nxt not in ("\\", '"', "n"):
                    raise Invalid(f"line {line_no}: bad escape \\{nxt}")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                j += 2
                continue
            if c == '"':
                break
            if c == "\n":
                raise Invalid(f"line {line_no}: raw newline in a label value")
            value.append(c)
            j += 1
        if name in labels:
            raise Invalid(f"line {line_no}: label {name} twice")
        labels[name] = "".join(value)
        i = j + 1
        if i < len(text):
            if text[i] != ",":
                raise Invalid(f"line {line_no}: expected ',' between labels")
            i += 1
    return labels


def _value(text, line_no):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z", text):
        raise Invalid(f"line {line_no}: bad value {text!r}")
    return float(text)


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; raises Invalid."""
    if not text.endswith("\n"):
        raise Invalid("the exposition must end with a newline")
    families = {}
    seen_series = set()
    current = None
    for line_no, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.match(name):
                    raise Invalid(f"line {line_no}: bad metric name {name!r}")
                family = families.setdefault(name, {"type": None, "help": None, "samples": []})
                if parts[1] == "TYPE":
                    if family["type"] is not None or family["samples"]:
                        raise Invalid(f"line {line_no}: TYPE for {name} repeated or after samples")
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise Invalid(f"line {line_no}: bad type")
                    family["type"] = parts[3]
                else:
                    if family["help"] is not None:
                        raise Invalid(f"line {line_no}: HELP for {name} twice")
                    family["help"] = parts[3] if len(parts) == 4 else ""
                current = name
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?\Z", line)
        if not m:
            raise Invalid(f"line {line_no}: not a sample: {line!r}")
        name, labels = m.group(1), _labels(m.group(3) or "", line_no)
        value = _value(m.group(4), line_no)
        family_name = name
        if current is not None and families[current]["type"] in ("histogram", "summary"):
            for suffix in ("_bucket", "_sum", "_count"):
                if name == current + suffix:
                    family_name = current
        if family_name != current or families[current]["type"] is None:
            raise Invalid(f"line {line_no}: sample {name} outside its family's TYPE block")
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            raise Invalid(f"line {line_no}: duplicate series {key}")
        seen_series.add(key)
        families[family_name]["samples"].append((name, labels, value))
    for name, family in families.items():
        if family["type"] == "counter" and not name.endswith("_total"):
            raise Invalid(f"counter {name} should end in _total")
        if family["type"] == "histogram":
            _check_histogram(name, family["samples"])
        for sample_name, _, value in family["samples"]:
            if family["type"] == "counter" and (value < 0 or math.isnan(value)):
                raise Invalid(f"{sample_name}: a counter below zero")
    return families


def _check_histogram(name, samples):
    series = {}
    for sample_name, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        entry = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sample_name == name + "_bucket":
            if "le" not in labels:
                raise Invalid(f"{name}: bucket without le")
            entry["buckets"].append((_value(labels["le"], 0), value))
        elif sample_name == name + "_sum":
            entry["sum"] = value
        elif sample_name == name + "_count":
            entry["count"] = value
    for rest, entry in series.items():
        bounds = [b for b, _ in entry["buckets"]]
        if bounds != sorted(bounds) or not bounds or bounds[-1] != math.inf:
            raise Invalid(f"{name}{rest}: buckets not ascending or no +Inf")
        counts = [c for _, c in entry["buckets"]]
        if counts != sorted(counts):
            raise Invalid(f"{name}{rest}: bucket counts not cumulative")
        if entry["count"] is None or entry["sum"] is None or counts[-1] != entry["count"]:
            raise Invalid(f"{name}{rest}: +Inf bucket differs from _count, or _sum missing")


def value(families, name, **labels):
    """The one sample of `name` with exactly these labels (or a subset match for le)."""
    family = families.get(name) or families.get(re.sub(r"_(bucket|sum|count)\Z", "", name))
    for sample_name, sample_labels, v in family["samples"]:
        if sample_name == name and sample_labels == labels:
            return v
    raise KeyError((name, labels))
