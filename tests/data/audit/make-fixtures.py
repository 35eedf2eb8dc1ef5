#!/usr/bin/env python3
"""Writes the audit-log fixtures of this directory from scratch.

An implementation of the record format of lib/include/ctishare/audit.h that
shares no code with the library, so the CLI cases also check that the
format is what the header says. Run from this directory:
python3 make-fixtures.py
"""
import hashlib
import uuid

ZERO = "0" * 64
FIELDS = ["tool", "actor", "action", "target", "collection", "objects", "result", "remote", "detail", "ids"]


def esc(s):
    out = []
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif cp < 0x20 or 0x7F <= cp <= 0x9F or cp in (0x2028, 0x2029):
            out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def record(seq, time, ev, prev):
    body = '{"seq":%d,"time":%s' % (seq, esc(time))
    for f in FIELDS:
        if f == "objects":
            body += ',"objects":%d' % ev.get(f, -1)
        else:
            body += ",%s:%s" % (esc(f), esc(ev.get(f, "")))
    body += ',"prev":"%s"' % prev
    return body + ',"hash":"%s"}' % hashlib.sha256(body.encode()).hexdigest()


def ids_digest(id_versions):
    """The "ids" member: sorted (id, version) pairs as "id|version\\n" lines."""
    if not id_versions:
        return ""
    text = "".join("%s|%s\n" % pair for pair in sorted(id_versions))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def objects(first, n):
    """n invented (id, modified) pairs, the same on every run."""
    ns = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
    return [("indicator--%s" % uuid.uuid5(ns, "fixture-%d" % i), "2026-02-28T10:00:00.000Z")
            for i in range(first, first + n)]


def record_hash(line):
    return line[-66:-2]


def checkpoint(seq, line, time):
    return '{"seq":%d,"hash":"%s","time":"%s"}\n' % (seq, record_hash(line), time)


def chain(events, seq=1, prev=ZERO):
    lines = []
    for time, ev in events:
        line = record(seq, time, ev, prev)
        lines.append(line)
        prev = hashlib.sha256(line.encode()).hexdigest()
        seq += 1
    return lines


API = "https://taxii.bank-a.example/api1/"
COLL = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
EVENTS = [
    ("2026-03-01T02:00:00.120000Z", dict(tool="taxii-serve", actor="cert-tw", action="objects.read", target=API,
                                         collection=COLL, objects=12, result="200", remote="198.51.100.20",
                                         ids=ids_digest(objects(0, 12)))),
    ("2026-03-01T02:00:01.004000Z", dict(tool="taxii-serve", actor="cert-tw", action="objects.add", target=API,
                                         collection=COLL, objects=3, result="202", remote="198.51.100.20",
                                         ids=ids_digest(objects(12, 3)))),
    ("2026-03-01T02:15:00.000000Z", dict(tool="taxii-push", actor="bank-a", action="push", target="cert-tw",
                                         collection="phishing", objects=40, result="ok",
                                         ids=ids_digest(objects(100, 40)))),
    ("2026-03-01T02:20:00.500000Z", dict(tool="taxii-serve", actor="mallory", action="objects.read", target=API,
                                         collection=COLL, result="denied", remote="203.0.113.9",
                                         detail='bad password for "mallory"\r\nforged line')),
    ("2026-03-01T02:30:00.000000Z", dict(tool="taxii-pull", actor="bank-a", action="pull", target="cert-tw",
                                         collection="phishing", objects=7, result="ok",
                                         ids=ids_digest(objects(200, 7)))),
]


def write(name, text):
    with open(name, "w", encoding="utf-8", newline="") as f:
        f.write(text)


intact = chain(EVENTS)
write("intact.jsonl", "\n".join(intact) + "\n")

edited = list(intact)
edited[2] = edited[2].replace('"objects":40', '"objects":4', 1)
write("edited.jsonl", "\n".join(edited) + "\n")

torn_line = intact[4][:57]
write("torn.jsonl", "\n".join(intact[:4]) + "\n" + torn_line)

recover = record(5, "2026-03-01T02:31:00.000000Z",
                 dict(tool="taxii-pull", action="audit.recover", target="/var/log/ctishare/audit.jsonl", result="ok",
                      detail="the line before is an incomplete record of %d bytes left by an interrupted write"
                      % len(torn_line)),
                 hashlib.sha256(torn_line.encode()).hexdigest())
after = chain([("2026-03-01T02:31:00.000000Z", EVENTS[4][1])], 6, hashlib.sha256(recover.encode()).hexdigest())
write("recovered.jsonl", "\n".join(intact[:4] + [torn_line, recover] + after) + "\n")

# A forger's work: record 4's actor changed and every hash from there on
# recomputed, so the chain alone is intact; only a checkpoint shows it.
forged = [(t, dict(ev, actor="cert-tw") if i == 3 else ev) for i, (t, ev) in enumerate(EVENTS)]
rewritten = chain(forged)
assert rewritten[:3] == intact[:3] and rewritten[3:] != intact[3:]
write("rewritten.jsonl", "\n".join(rewritten) + "\n")

# The checkpoint a writer leaves after the last record of intact.jsonl, and
# one that lags two records behind (as a throttled writer's may).
write("intact.checkpoint", checkpoint(5, intact[4], "2026-03-01T02:30:00.001000Z"))
write("lagging.checkpoint", checkpoint(3, intact[2], "2026-03-01T02:15:00.001000Z"))
