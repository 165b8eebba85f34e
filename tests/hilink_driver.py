"""Drives sms-bridge's fake HiLink router with the real PyPI client huawei-lte-api.

Usage: hilink_driver.py SCENARIO JSON_ARGS; prints one JSON object on stdout.
Scenarios:
  full      {url, username, password, to, text}: log in, read state, list, send, poll
            send-status, list again, set-read, delete, count, notifications, log out.
  login     {url, username, password}: log in only; reports the exception if any.
  no_login  {url, to, text}: no credentials; list, send, poll, count.
Exceptions are reported as {"error": class name, "code": n} rather than raised.
"""

import json
import sys
import time

import huawei_lte_api
from huawei_lte_api.Client import Client
from huawei_lte_api.Connection import Connection
from huawei_lte_api.exceptions import ResponseErrorException


def wait_sent(client, timeout=10.0):
    """send-status until no Phone is still being sent to, as the web UI polls it."""
    deadline = time.time() + timeout
    polls = []
    while True:
        status = client.sms.send_status()
        polls.append(status)
        if not status.get("Phone"):
            return polls
        if time.time() > deadline:
            raise TimeoutError(f"send-status never settled: {polls}")
        time.sleep(0.1)


def messages(listing):
    return listing["Messages"]["Message"]


def full(a):
    out = {"client_version": huawei_lte_api.__version__ if hasattr(huawei_lte_api, "__version__") else None}
    with Connection(a["url"], username=a["username"], password=a["password"], timeout=10) as conn:
        client = Client(conn)
        out["state_login"] = client.user.state_login()
        out["count_before"] = client.sms.sms_count()
        out["notifications"] = client.monitoring.check_notifications()
        out["inbox"] = messages(client.sms.get_sms_list(1, read_count=50))
        out["send"] = client.sms.send_sms([a["to"]], a["text"])
        out["send_status"] = wait_sent(client)
        # A send to the router's own number comes back; give it a moment.
        time.sleep(0.3)
        inbox = messages(client.sms.get_sms_list(1, read_count=50))
        out["inbox_after_send"] = inbox
        first = inbox[0]["Index"]
        out["set_read"] = client.sms.set_read(int(first))
        out["delete"] = client.sms.delete_sms(int(first))
        out["count_after"] = client.sms.sms_count()
        out["sent_box"] = messages(client.sms.get_sms_list(1, box_type=huawei_lte_api.enums.sms.BoxTypeEnum.LOCAL_SENT))
        out["tokens_held_before_logout"] = len(conn.request_verification_tokens)
    return out


def login(a):
    try:
        with Connection(a["url"], username=a["username"], password=a["password"], timeout=10) as conn:
            return {"state_login": Client(conn).user.state_login()}
    except ResponseErrorException as e:
        return {"error": type(e).__name__, "code": e.code}


def no_login(a):
    out = {}
    with Connection(a["url"], timeout=10) as conn:
        client = Client(conn)
        out["state_login"] = client.user.state_login()
        out["inbox"] = messages(client.sms.get_sms_list())
        out["send"] = client.sms.send_sms([a["to"]], a["text"])
        out["send_status"] = wait_sent(client)
        out["count"] = client.sms.sms_count()
    return out


def main():
    scenario, args = sys.argv[1], json.loads(sys.argv[2])
    result = {"full": full, "login": login, "no_login": no_login}[scenario](args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
