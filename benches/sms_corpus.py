#!/usr/bin/env python3
"""Writes the deterministic "mixed" SMS corpus the codec benchmarks share (target/sms-corpus.json).

    python3 benches/sms_corpus.py                    # seed 20241122, default sizes
    python3 benches/sms_corpus.py --out X.json --seed 7 --scale 2

Plain Python 3 (no packages). Same seed and scale -> byte-identical file. Contents:

  texts         SMS bodies without characters above U+FFFF, for encoding (split + SMS-SUBMIT):
                  gsm        GSM 03.38 default alphabet only, 1..480 characters (> 160 is multipart)
                  gsm-ext    default alphabet plus escape characters (euro sign, brackets, braces, ...),
                             some placed right at the 153-septet segment boundary
                  bmp        Cyrillic, Chinese, Greek (with ASCII, digits, punctuation): UCS-2,
                             > 70 characters is multipart
  texts_astral  texts with emoji (above U+FFFF, UTF-16 surrogate pairs in UCS-2), kept apart
                because python-messaging cannot encode them (see tests/pymessaging_driver.py)
  pdus          SMS-DELIVER PDUs (hex, with SMSC field, one per segment) of every text in
                `texts`, for decoding; `pdus_astral` likewise for `texts_astral`

Each text entry is {"category", "text", "septets" or "utf16_units", "parts"}; each PDU entry is
{"hex", "text_index", "seq", "parts"}. The PDUs are built here by a small encoder of our own
(GSM 7-bit packing with fill bits, UCS-2, 8-bit-reference concatenation UDH); segments never
split an escape sequence or a surrogate pair. The corpus is synthetic: no real messages.
"""

import argparse
import hashlib
import json
import os
import random
import sys

DEFAULT_SEED = 20241122
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "sms-corpus.json")

# GSM 03.38 default alphabet, septet value = index (0x1B is the escape to the extension table).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM_BASIC) == 128
# Extension table: these characters are sent as 0x1B followed by the value.
GSM_EXT = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40}
GSM_EXT["€"] = 0x65
GSM_CODE = {c: i for i, c in enumerate(GSM_BASIC) if c != "\x1b"}

SMSCS = ["+447700900000", "+34607003110", None]
SENDERS = ["+447700900123", "+34616585119", "+4915112345678", "07700900456", "5555"]

GSM_WORDS = (
    "the meeting is at pm tomorrow call me when you get home running late sorry ok see you soon "
    "your code is please confirm delivery order shipped tracking balance top up thanks "
    "hola qué tal mañana vamos café año señor niño über größe für müde à la carte déjà vu "
    "Øresund Ålesund fjord smørbrød Ärger Öl Ñoño £ $ ¥ @ § ¿ ¡ 100% #1 a&b 12:30 3,45 O'Neil"
).split()
EXT_TOKENS = ["€", "[", "]", "{", "}", "~", "^", "|", "\\", "[ok]", "{x}", "10€", "a|b", "~/"]
BMP_WORDS = {
    "cyrillic": "привет как дела завтра встреча в офисе спасибо большое жду ответа доставка заказ".split(),
    "chinese": "你好 明天 见面 谢谢 订单 已发货 请确认 验证码 余额 中兴通讯 我们 下午 三点".split(),
    "greek": "γεια σου τι κάνεις αύριο συνάντηση ευχαριστώ πολύ παραγγελία κωδικός ναι όχι".split(),
}
ASCII_BITS = "ok OK 42 2024 +1 - , . ! ? : ( ) /".split()
EMOJI = ["😀", "👍", "🎉", "❤️", "🙏", "😂", "🚀", "👨‍👩‍👧", "🇪🇸", "🤖", "☕"]


def gsm_septets(text):
    out = []
    for c in text:
        if c in GSM_CODE:
            out.append(GSM_CODE[c])
        else:
            out.extend((0x1B, GSM_EXT[c]))
    return out


def septet_len(text):
    return sum(2 if c in GSM_EXT else 1 for c in text)


def utf16_units(text):
    data = text.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def pick_length(rng, bands):
    """A length from `bands` [(weight, lo, hi)]: a weighted band, then uniform within it."""
    _, lo, hi = rng.choices(bands, [b[0] for b in bands])[0]
    return rng.randint(lo, hi)


def fill(rng, length, token):
    """Joins tokens with spaces up to exactly `length` characters."""
    parts, size = [], 0
    while size < length:
        t = token()
        parts.append(t)
        size += len(t) + 1
    text = " ".join(parts)[:length]
    return text[:-1] + "." if text.endswith(" ") else text


def gsm_text(rng):
    n = pick_length(rng, [(3, 1, 40), (4, 41, 160), (1, 161, 170), (2, 171, 480)])
    text = fill(rng, n, lambda: rng.choice(GSM_WORDS))
    assert all(c in GSM_CODE for c in text), text
    return text


def gsm_ext_text(rng):
    n = pick_length(rng, [(3, 5, 80), (3, 81, 160), (3, 161, 400)])
    text = fill(rng, n, lambda: rng.choice(EXT_TOKENS) if rng.random() < 0.3 else rng.choice(GSM_WORDS))
    if not any(c in GSM_EXT for c in text):
        text = text[:-1] + "€"
    if rng.random() < 0.3:
        # an escape character exactly where a 153-septet segment would end
        head = "".join(rng.choice("abcdefghij ") for _ in range(152))
        text = head + "€" + text
    return text


def bmp_text(rng):
    script = rng.choice(sorted(BMP_WORDS))
    n = pick_length(rng, [(3, 1, 30), (3, 31, 70), (1, 71, 80), (3, 81, 300)])

    def token():
        return rng.choice(ASCII_BITS) if rng.random() < 0.2 else rng.choice(BMP_WORDS[script])

    text = fill(rng, n, token)
    if all(c in GSM_CODE or c in GSM_EXT for c in text):  # e.g. only Greek capitals and ASCII
        text = text[:-1] + BMP_WORDS[script][0][0]
    return script, text


def astral_text(rng):
    n = pick_length(rng, [(3, 1, 30), (3, 31, 70), (2, 71, 200)])

    def token():
        r = rng.random()
        if r < 0.35:
            return rng.choice(EMOJI)
        if r < 0.5:
            return rng.choice(BMP_WORDS["cyrillic"])
        return rng.choice(GSM_WORDS)

    text = fill(rng, n, token)
    if all(ord(c) <= 0xFFFF for c in text):
        text = text[:-1] + "😀"
    return text


# --- SMS-DELIVER encoder (ours) ---------------------------------------------------------------


def address(number):
    """(TP-OA octets) for a numeric address; '+' means international."""
    toa = 0x91 if number.startswith("+") else 0x81
    digits = number.lstrip("+")
    padded = digits + ("F" if len(digits) % 2 else "")
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return bytes([len(digits), toa]) + bytes.fromhex(swapped)


def smsc_field(number):
    if number is None:
        return b"\x00"
    oa = address(number)
    return bytes([len(oa) - 1]) + oa[1:]


def bcd(n):
    return ((n % 10) << 4) | (n // 10)


def scts(i):
    """A valid, deterministic SCTS: 2024-MM-DD hh:mm:ss with a quarter-hour offset."""
    month, day = 1 + i % 12, 1 + i % 28
    hour, minute, second = i % 24, (i * 7) % 60, (i * 13) % 60
    quarters = (i % 9) * 4  # +00:00 .. +08:00
    tz = bcd(quarters)
    if i % 5 == 0:
        tz |= 0x08  # negative offset
    return bytes([bcd(24), bcd(month), bcd(day), bcd(hour), bcd(minute), bcd(second), tz])


def pack_septets(septets, skip_bits):
    """Packs septets LSB-first from bit `skip_bits` on (room for the UDH and its fill bits);
    the skipped bits stay zero."""
    total_bits = skip_bits + 7 * len(septets)
    out = bytearray((total_bits + 7) // 8)
    bit = skip_bits
    for s in septets:
        value = s << (bit % 8)
        out[bit // 8] |= value & 0xFF
        if value >> 8:
            out[bit // 8 + 1] |= value >> 8
        bit += 7
    return bytes(out)


def segments(units, single, multi, is_lead):
    """Splits a unit list; never ends a segment on a lead unit (escape or high surrogate)."""
    if len(units) <= single:
        return [units]
    out, i = [], 0
    while i < len(units):
        end = min(i + multi, len(units))
        if end < len(units) and is_lead(units[end - 1]):
            end -= 1
        out.append(units[i:end])
        i = end
    return out


def deliver_pdus(text, index):
    smsc = SMSCS[index % len(SMSCS)]
    sender = SENDERS[index % len(SENDERS)]
    gsm = all(c in GSM_CODE or c in GSM_EXT for c in text)
    if gsm:
        parts = segments(gsm_septets(text), 160, 153, lambda s: s == 0x1B)
    else:
        parts = segments(utf16_units(text), 70, 67, lambda u: 0xD800 <= u <= 0xDBFF)
    pdus = []
    for seq, part in enumerate(parts, 1):
        udh = b"" if len(parts) == 1 else bytes([5, 0, 3, index & 0xFF, len(parts), seq])
        first = 0x04 | (0x40 if udh else 0)
        if gsm:
            header_septets = (len(udh) * 8 + 6) // 7
            udl = header_septets + len(part)
            body = pack_septets(part, header_septets * 7)
            if udh:
                body = udh + body[len(udh) :]
            dcs = 0x00
        else:
            body = udh + b"".join(u.to_bytes(2, "big") for u in part)
            udl = len(body)
            dcs = 0x08
        tpdu = bytes([first]) + address(sender) + bytes([0x00, dcs]) + scts(index) + bytes([udl]) + body
        pdus.append((smsc_field(smsc) + tpdu).hex().upper())
    return pdus


def describe(category, text):
    entry = {"category": category, "text": text}
    if all(c in GSM_CODE or c in GSM_EXT for c in text):
        entry["septets"] = septet_len(text)
    else:
        entry["utf16_units"] = len(utf16_units(text))
    return entry


def build(seed, scale):
    rng = random.Random(seed)
    counts = {"gsm": 400 * scale, "gsm-ext": 200 * scale, "bmp": 300 * scale, "astral": 100 * scale}
    texts = [describe("gsm", gsm_text(rng)) for _ in range(counts["gsm"])]
    texts += [describe("gsm-ext", gsm_ext_text(rng)) for _ in range(counts["gsm-ext"])]
    for _ in range(counts["bmp"]):
        script, text = bmp_text(rng)
        texts.append(describe("bmp-" + script, text))
    rng.shuffle(texts)
    astral = [describe("astral", astral_text(rng)) for _ in range(counts["astral"])]

    def pdus_of(entries):
        out = []
        for i, entry in enumerate(entries):
            hexes = deliver_pdus(entry["text"], i)
            entry["parts"] = len(hexes)
            out += [{"hex": h, "text_index": i, "seq": s, "parts": len(hexes)} for s, h in enumerate(hexes, 1)]
        return out

    pdus = pdus_of(texts)
    pdus_astral = pdus_of(astral)
    return {
        "generator": "benches/sms_corpus.py",
        "seed": seed,
        "scale": scale,
        "number": SENDERS[0],
        "texts": texts,
        "texts_astral": astral,
        "pdus": pdus,
        "pdus_astral": pdus_astral,
    }


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--scale", type=int, default=1, help="multiplies every category's count")
    args = ap.parse_args(argv)
    corpus = build(args.seed, args.scale)
    data = json.dumps(corpus, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    out = os.path.normpath(args.out)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    summary = {
        "out": out,
        "sha256": hashlib.sha256(data).hexdigest(),
        "texts": len(corpus["texts"]),
        "texts_astral": len(corpus["texts_astral"]),
        "pdus": len(corpus["pdus"]),
        "pdus_astral": len(corpus["pdus_astral"]),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
