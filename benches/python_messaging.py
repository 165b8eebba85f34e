#!/usr/bin/env python3
"""Times python-messaging on the shared SMS corpus, as a reference for our Rust codec.

    python3 benches/sms_corpus.py                                   # writes target/sms-corpus.json
    target/tmp/pymessaging-venv/bin/python benches/python_messaging.py [CORPUS] [--runs 7]

The venv is the one the test harness installs (`cargo test --test pymessaging_smoke`); any
Python 3 with python-messaging==0.5.13 works. Measures, each over the whole corpus:

  decode   SmsDeliver(hex) on every entry of `pdus` (SMS-DELIVER, SMSC field included): PDUs/s
  encode   SmsSubmit(number, text).to_pdu() on every entry of `texts` (encoding choice,
           splitting, SMS-SUBMIT PDUs as hex): messages/s, and PDUs/s produced

`texts_astral`/`pdus_astral` (emoji, above U+FFFF) are left out: python-messaging writes such
code points as 5 hex digits, i.e. corrupt PDUs, and decodes surrogate pairs as two code points.
One untimed warm-up pass, then --runs timed passes; prints one JSON object with the median and
all runs (seconds), rates from the median, and the corpus' sha256. Single-threaded, pure Python.
"""

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time

from messaging.sms import SmsDeliver, SmsSubmit

import messaging

DEFAULT_CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "sms-corpus.json")


def decode_all(pdus):
    n = 0
    for hex_pdu in pdus:
        SmsDeliver(hex_pdu)
        n += 1
    return n


def encode_all(number, texts):
    parts = 0
    for i, text in enumerate(texts):
        sms = SmsSubmit(number, text)
        sms.ref = 0
        sms.rand_id = i & 0xFF
        parts += len(sms.to_pdu())
    return parts


def timed(runs, fn):
    fn()  # warm-up, untimed
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)

    with open(args.corpus, "rb") as f:
        raw = f.read()
    corpus = json.loads(raw)
    pdus = [p["hex"] for p in corpus["pdus"]]
    texts = [t["text"] for t in corpus["texts"]]
    assert all(ord(c) <= 0xFFFF for t in texts for c in t), "texts must not hold code points above U+FFFF"
    number = corpus["number"]

    produced = encode_all(number, texts)
    decode_times = timed(args.runs, lambda: decode_all(pdus))
    encode_times = timed(args.runs, lambda: encode_all(number, texts))
    decode_median = statistics.median(decode_times)
    encode_median = statistics.median(encode_times)

    print(
        json.dumps(
            {
                "implementation": "python-messaging " + ".".join(map(str, messaging.VERSION)),
                "python": platform.python_implementation() + " " + platform.python_version(),
                "corpus": os.path.normpath(args.corpus),
                "corpus_sha256": hashlib.sha256(raw).hexdigest(),
                "runs": args.runs,
                "decode": {
                    "pdus": len(pdus),
                    "median_s": round(decode_median, 6),
                    "pdus_per_s": round(len(pdus) / decode_median, 1),
                    "us_per_pdu": round(decode_median / len(pdus) * 1e6, 2),
                    "runs_s": [round(t, 6) for t in decode_times],
                },
                "encode": {
                    "messages": len(texts),
                    "pdus_produced": produced,
                    "median_s": round(encode_median, 6),
                    "messages_per_s": round(len(texts) / encode_median, 1),
                    "pdus_per_s": round(produced / encode_median, 1),
                    "us_per_message": round(encode_median / len(texts) * 1e6, 2),
                    "runs_s": [round(t, 6) for t in encode_times],
                },
                "excluded": {
                    "texts_astral": len(corpus.get("texts_astral", [])),
                    "pdus_astral": len(corpus.get("pdus_astral", [])),
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
