"""JSON-lines driver around python-messaging, the independent SMS codec our tests compare against.

Started once per test binary by tests/common/pymessaging.rs inside a virtualenv that has
python-messaging==0.5.13 installed. It reads one JSON object per line on stdin and writes exactly
one JSON object per line on stdout. A request that fails gets {"error": "..."}; the driver itself
only exits at end of input. This file is our own code; python-messaging (GPL) is used as a
library only and nothing of it is copied here.

Ops (optional fields in brackets):

  {"op": "version"}
      -> {"python_messaging": "0.5.13", "python": "3.11.7"}

  {"op": "encode_submit", "number", "text", ["smsc": null|str], ["validity_minutes": null|int],
   ["validity_absolute": null|ISO 8601], ["status_report": bool], ["csms_ref": 0..255],
   ["message_ref": 0..255], ["encoding": null|"gsm0338"|"ucs2"|"8bit"], ["class": null|0..3]}
      messaging.sms.SmsSubmit. TP-MR is `message_ref` (default 0) and the concatenation reference
      is `csms_ref` (default 0); upstream would use 0 for both anyway (its "random" id is always
      the first entry of range(0, 255)). With encoding null upstream picks GSM 7-bit when
      is_valid_gsm(text), else UCS-2 (so "" goes out as UCS-2). "8bit" sends each character's
      code point as one octet (U+0000..U+00FF only); upstream's multipart 8-bit PDUs are corrupt
      (UDHI set, no UDH written, UDL counting 3 octets that are not there). On Python 3 a GSM
      text over 160 septets is cut every 153 septets even inside an escape sequence.
      -> {"pdus": [{"hex", "length", "cnt", "seq"}], "fmt", "dcs"}
      `hex` starts with the SMSC field; `length` is the TPDU length (what AT+CMGS takes), a float
      only when upstream produced an odd number of hex digits.

  {"op": "decode", "hex", ["strict": bool]}
      messaging.sms.SmsDeliver (SMS-DELIVER and SMS-STATUS-REPORT; it rejects SMS-SUBMIT).
      -> {"type", "mtype", "text", "data_hex", "surrogates", "number", "csca", "date",
          "udh": null | {"concat": null|{"ref","cnt","seq","eight_bits"},
                         "ports": null|{"dst","src","eight_bits"}, "headers": {"<iei>": "hex"}},
          "fmt", "dcs", "pid", "sr": null|{"recipient","scts","dt","status"}}
      `date` is naive ISO 8601: UTC for SMS-DELIVER, the PDU's local time (offset ignored) for
      status reports. For 8-bit data (fmt 4) `text` is null and `data_hex` holds the bytes.
      UCS-2 text: upstream turns every 16-bit unit into one code point, so a surrogate pair
      comes out as two surrogates. Such text cannot be sent as JSON to Rust, so pairs are
      joined here, any lone surrogate becomes U+FFFD, and `surrogates` is true.

  {"op": "decode_submit", "hex", ["scts": 7 octets hex]}
      python-messaging cannot decode SMS-SUBMIT. This op re-frames the SUBMIT as an SMS-DELIVER
      (our code, below: the destination address becomes the originating address, TP-MR and TP-VP
      are dropped, the SCTS `scts` (default 2021-01-01T00:00:00Z) is inserted, UDHI, SRR->SRI and
      RP carried over) and decodes that with SmsDeliver. PID, DCS, UDL and UD are passed through
      byte for byte, so text, UDH and address decoding are all upstream's.
      -> the `decode` answer plus "deliver_hex" (the re-framed PDU) and "submit": {"message_ref",
         "vpf", "vp_hex", "status_report", "reply_path", "reject_duplicates"} (parsed by this
         driver, not by upstream)

  {"op": "gsm_encode", "text", ["errors": "strict"|"replace"|"ignore"]}
      the 'gsm0338' codec python-messaging registers
      -> {"hex": unpacked septets (escape 1B included), "is_valid_gsm": bool}
  {"op": "gsm_encode_many", "texts": [str]} -> {"hex": [hex or null if not encodable (strict)],
                                                 "is_valid_gsm": [bool]}
  {"op": "gsm_decode", "hex"} -> {"text", "surrogates"}
  {"op": "is_valid_gsm", "text"} -> {"is_valid_gsm": bool}

  {"op": "mms_encode", "transaction_id", "to", ["from"], ["subject"],
   "slides": [{["image": {"content_type", "data_hex", "location"}],
               ["audio": {"content_type", "data_hex", "location"}], ["text": str]}]}
      messaging.mms.message.MMSMessage with one MMSMessagePage per slide; upstream writes its own
      SMIL part first. On Python 3 upstream writes each data character as one octet, so binary
      data goes in as a Latin-1 string; it cannot encode Content-Type parameters (a dict_keys
      .sort() error) and drops parts added with add_data_part, so neither is used.
      -> {"hex"}

  {"op": "mms_decode", "hex"}
      messaging.mms.message.MMSMessage.from_data
      -> {"headers": {name: value}, "parts": [{"content_type", "params", "headers", "data_hex"}]}
      Header values that are tuples (Content-Type) become [value, {params}]; bytes become Latin-1.
"""

import json
import platform
import re
import sys
import traceback
from datetime import datetime, timedelta

import messaging
from messaging.sms import SmsDeliver, SmsSubmit
from messaging.sms.gsm0338 import is_valid_gsm

HEX = re.compile(r"^[0-9A-Fa-f]*$")
ENCODINGS = {None: None, "gsm0338": 0x00, "ucs2": 0x08, "8bit": 0x04}


class RequestError(Exception):
    pass


def field(req, name, kinds, default=None, required=False):
    if name not in req or req[name] is None:
        if required:
            raise RequestError("missing field %r" % name)
        return default
    value = req[name]
    # bool is an int subclass: accept it only where a bool is wanted.
    if not isinstance(value, kinds) or isinstance(value, bool) != (kinds is bool):
        raise RequestError("field %r has the wrong type: %r" % (name, value))
    return value


def byte_field(req, name, default):
    value = field(req, name, int, default)
    if not 0 <= value <= 0xFF:
        raise RequestError("field %r must be 0..255, got %d" % (name, value))
    return value


def json_text(text):
    """Returns (text, had_surrogates) with text safe for strict JSON parsers."""
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return text, False
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined, True


def length_value(length):
    return int(length) if float(length).is_integer() else length


def op_version(_req):
    return {
        "python_messaging": ".".join(str(p) for p in messaging.VERSION),
        "python": platform.python_version(),
    }


def op_encode_submit(req):
    number = field(req, "number", str, required=True)
    text = field(req, "text", str, required=True)
    encoding = field(req, "encoding", str)
    if encoding not in ENCODINGS:
        raise RequestError("unknown encoding %r (null, gsm0338, ucs2 or 8bit)" % encoding)

    sms = SmsSubmit(number, text)
    smsc = field(req, "smsc", str)
    if smsc is not None:
        sms.csca = smsc
    minutes = field(req, "validity_minutes", int)
    if minutes is not None:
        sms.validity = timedelta(minutes=minutes)
    absolute = field(req, "validity_absolute", str)
    if absolute is not None:
        if minutes is not None:
            raise RequestError("validity_minutes and validity_absolute are exclusive")
        sms.validity = datetime.fromisoformat(absolute)
    sms.request_status = field(req, "status_report", bool, False)
    sms.ref = byte_field(req, "message_ref", 0)
    sms.rand_id = byte_field(req, "csms_ref", 0)
    klass = field(req, "class", int)
    if klass is not None:
        sms.klass = klass
    sms.fmt = ENCODINGS[encoding]

    pdus = sms.to_pdu()
    return {
        "pdus": [{"hex": p.pdu, "length": length_value(p.length), "cnt": p.cnt, "seq": p.seq} for p in pdus],
        "fmt": sms.fmt,
        "dcs": sms.dcs,
    }


def iso(value):
    return None if value is None else value.isoformat()


def describe(sms):
    text, data_hex, surrogates = sms.text, None, False
    if isinstance(text, (bytes, bytearray)):
        text, data_hex = None, bytes(text).hex().upper()
    elif text is not None:
        text, surrogates = json_text(text)

    udh = None
    if sms.udh is not None:
        concat = sms.udh.concat
        ports = sms.udh.ports
        udh = {
            "concat": None
            if concat is None
            else {"ref": concat.ref, "cnt": concat.cnt, "seq": concat.seq, "eight_bits": concat.eight_bits},
            "ports": None
            if ports is None
            else {"dst": ports.dest_port, "src": ports.orig_port, "eight_bits": ports.eight_bits},
            "headers": {str(iei): bytes(data).hex().upper() for iei, data in sms.udh.headers.items()},
        }

    sr = None
    if sms.sr is not None:
        sr = {
            "recipient": sms.sr["recipient"],
            "scts": iso(sms.sr["scts"]),
            "dt": iso(sms.sr["dt"]),
            "status": sms.sr["status"],
        }

    return {
        "type": sms.type,
        "mtype": sms.mtype,
        "text": text,
        "data_hex": data_hex,
        "surrogates": surrogates,
        "number": sms.number,
        "csca": sms.csca,
        "date": iso(sms.date),
        "udh": udh,
        "fmt": sms.fmt,
        "dcs": sms.dcs,
        "pid": sms.pid,
        "sr": sr,
    }


def hex_field(req, name="hex"):
    value = field(req, name, str, required=True)
    # Odd lengths are left to upstream (it raises or, non-strict, drops the last digit).
    if not HEX.match(value):
        raise RequestError("field %r is not hex: %r" % (name, value))
    return value


def op_decode(req):
    pdu = hex_field(req)
    return describe(SmsDeliver(pdu, strict=field(req, "strict", bool, True)))


# SCTS 2021-01-01 00:00:00, time zone +00 (semi-octet swapped).
FIXED_SCTS = bytes.fromhex("12101000000000")


def submit_to_deliver(data, scts=FIXED_SCTS):
    """Re-frames an SMS-SUBMIT (with SMSC field) as an SMS-DELIVER; returns (pdu, submit_facts)."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise RequestError("SMS-SUBMIT truncated at octet %d (wanted %d more)" % (pos, n))
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    smsc = take(1)
    smsc += take(smsc[0])
    first = take(1)[0]
    if first & 0x03 != 0x01:
        raise RequestError("not an SMS-SUBMIT: first octet %02X" % first)
    message_ref = take(1)[0]
    da_digits = take(1)[0]
    address = bytes([da_digits]) + take(1 + (da_digits + 1) // 2)
    pid = take(1)
    dcs = take(1)
    vpf = (first >> 3) & 0x03
    vp = take({0: 0, 1: 7, 2: 1, 3: 7}[vpf])
    user_data = data[pos:]  # UDL + UD, untouched
    if not user_data:
        raise RequestError("SMS-SUBMIT has no TP-UDL")

    deliver_first = 0x04 | (first & 0x40) | (first & 0x20) | (first & 0x80)  # no more messages, UDHI, SRR->SRI, RP
    pdu = smsc + bytes([deliver_first]) + address + pid + dcs + scts + user_data
    facts = {
        "message_ref": message_ref,
        "vpf": vpf,
        "vp_hex": vp.hex().upper(),
        "status_report": bool(first & 0x20),
        "reply_path": bool(first & 0x80),
        "reject_duplicates": bool(first & 0x04),
    }
    return pdu, facts


def scts_field(req):
    if field(req, "scts", str) is None:
        return FIXED_SCTS
    scts = bytes.fromhex(hex_field(req, "scts"))
    if len(scts) != 7:
        raise RequestError("scts must be 7 octets, got %d" % len(scts))
    return scts


def op_decode_submit(req):
    pdu, facts = submit_to_deliver(bytes.fromhex(hex_field(req)), scts_field(req))
    answer = describe(SmsDeliver(pdu.hex().upper()))
    answer["submit"] = facts
    answer["deliver_hex"] = pdu.hex().upper()
    return answer


def op_gsm_encode(req):
    text = field(req, "text", str, required=True)
    errors = field(req, "errors", str, "strict")
    return {"hex": text.encode("gsm0338", errors).hex().upper(), "is_valid_gsm": is_valid_gsm(text)}


def op_gsm_encode_many(req):
    texts = field(req, "texts", list, required=True)
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise RequestError("texts must be strings: %r" % (text,))
        try:
            out.append(text.encode("gsm0338").hex().upper())
        except UnicodeError:
            out.append(None)
    return {"hex": out, "is_valid_gsm": [is_valid_gsm(t) for t in texts]}


def op_gsm_decode(req):
    text, surrogates = json_text(bytes.fromhex(hex_field(req)).decode("gsm0338"))
    return {"text": text, "surrogates": surrogates}


def op_is_valid_gsm(req):
    return {"is_valid_gsm": is_valid_gsm(field(req, "text", str, required=True))}


def plain(value):
    """Upstream's header values as JSON: tuples to lists, bytes to Latin-1 text."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def op_mms_encode(req):
    from messaging.mms.message import MMSMessage, MMSMessagePage, DataPart

    m = MMSMessage()
    m.headers["Transaction-Id"] = field(req, "transaction_id", str, required=True)
    m.headers["To"] = field(req, "to", str, required=True)
    for key, name in (("from", "From"), ("subject", "Subject")):
        value = field(req, key, str)
        if value is not None:
            m.headers[name] = value
    for slide in field(req, "slides", list, required=True):
        page = MMSMessagePage()
        for slot in ("image", "audio"):
            media = slide.get(slot)
            if media:
                part = DataPart()
                part.set_data(bytes.fromhex(media["data_hex"]).decode("latin-1"), media["content_type"])
                part.headers["Content-Location"] = media["location"]
                setattr(page, slot, (part, 0, 0))
        if slide.get("text"):
            page.add_text(slide["text"])
        m.add_page(page)
    return {"hex": bytes(m.encode()).hex()}


def op_mms_decode(req):
    from messaging.mms.message import MMSMessage

    import array

    m = MMSMessage.from_data(array.array("B", bytes.fromhex(hex_field(req))))
    parts = []
    for p in m.data_parts:
        content_type, params = p.headers["Content-Type"]
        data = p.data
        if isinstance(data, str):
            data = data.encode("latin-1")
        parts.append({
            "content_type": content_type,
            "params": plain(params),
            "headers": plain({k: v for k, v in p.headers.items() if k != "Content-Type"}),
            "data_hex": bytes(data).hex(),
        })
    return {"headers": plain(m.headers), "parts": parts}


OPS = {
    "version": op_version,
    "encode_submit": op_encode_submit,
    "decode": op_decode,
    "decode_submit": op_decode_submit,
    "gsm_encode": op_gsm_encode,
    "gsm_encode_many": op_gsm_encode_many,
    "gsm_decode": op_gsm_decode,
    "is_valid_gsm": op_is_valid_gsm,
    "mms_encode": op_mms_encode,
    "mms_decode": op_mms_decode,
}


def handle(line):
    try:
        req = json.loads(line)
    except ValueError as e:
        return {"error": "request is not JSON: %s" % e}
    if not isinstance(req, dict):
        return {"error": "request is not a JSON object"}
    op = OPS.get(req.get("op"))
    if op is None:
        return {"error": "unknown op %r; known: %s" % (req.get("op"), ", ".join(sorted(OPS)))}
    try:
        return op(req)
    except RequestError as e:
        return {"error": "bad request: %s" % e}
    except Exception as e:  # upstream raises ValueError, TypeError, IndexError, UnicodeError...
        return {
            "error": "%s: %s" % (type(e).__name__, e),
            "traceback": traceback.format_exc(limit=4),
        }


def main():
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    for raw in stdin:
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        answer = handle(line)
        try:
            out = json.dumps(answer, ensure_ascii=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            out = json.dumps({"error": "driver cannot serialise the answer: %s (%r)" % (e, answer)})
        stdout.write(out.encode("ascii") + b"\n")
        stdout.flush()


if __name__ == "__main__":
    main()
