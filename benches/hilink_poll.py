"""The HiLink polling loop with PyPI's huawei-lte-api, for benches/hilink.rs.

Usage: hilink_poll.py '{"url", "username", "password", "interval", "polls", "messages",
                        "warmup", "refresh_s"}'

Does what the bridge's HiLink link does on each poll (src/backend/hilink/receive.rs and
session.rs), with the same requests in the same order:

- monitoring/check-notifications;
- only when UnreadMessage > 0, SmsStorageFull changed, the last read left messages behind,
  or `refresh_s` seconds (60, the bridge's refresh_interval) have passed since the last
  full read (and at the first poll): sms/sms-count, then, only when LocalInbox > 0, every
  page of sms/sms-list (50 per page, oldest first), read whole before anything is
  deleted, then sms/delete-sms for each message;
- after the poll, when `refresh_s` seconds have passed since the last status read (done
  once after logging in, as the bridge does on connecting): device/information,
  monitoring/status, device/signal, net/current-plmn;
- then sleep `interval` seconds.

Talks to benches/hilink.rs over stdin and stdout, one JSON object per line:

1. logs in (Connection), runs `warmup` polls untimed, prints {"ready": "idle"} and
   waits for a line on stdin;
2. runs `polls` polls and prints {"phase": "idle", "cpu_s", "wall_s", "polls"};
3. waits for a line on stdin (the bench has put `messages` SMS in the inbox meanwhile),
   polls until it has deleted that many and prints {"phase": "messages", ...};
4. logs out and exits.

CPU is time.process_time() (user + system of this process, all threads) taken around the
loop only: interpreter start, imports and login are not counted, nor is waiting on stdin.
The loop keeps the messages it read (as a client would hand them on) and drops them.
"""

import json
import sys
import time

from huawei_lte_api.Client import Client
from huawei_lte_api.Connection import Connection
from huawei_lte_api.enums.sms import BoxTypeEnum
from huawei_lte_api.exceptions import ResponseErrorException

PAGE = 50
MAX_PAGES = 30


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def wait_for_go():
    if not sys.stdin.readline():
        raise SystemExit("hilink_poll.py: stdin closed")


def messages_of(listing):
    box = listing.get("Messages") or {}
    found = box.get("Message") or []
    return found if isinstance(found, list) else [found]


class Poller:
    def __init__(self, client, refresh_s):
        self.client = client
        self.refresh_s = refresh_s
        self.polls = 0
        self.handled = 0
        self.last = []
        self.full = False
        self.left_behind = False
        self.next_full_read = None
        self.next_status = None

    def list_all(self):
        """Every page, oldest first, before anything is deleted (deleting shifts pages)."""
        seen = {}
        for page in range(1, MAX_PAGES + 1):
            listing = self.client.sms.get_sms_list(page, BoxTypeEnum.LOCAL_INBOX, read_count=PAGE, ascending=True)
            got = messages_of(listing)
            for m in got:
                seen.setdefault(m["Index"], m)
            if len(got) < PAGE or len(seen) >= int(listing.get("Count") or 0):
                break
        return list(seen.values())

    def poll(self):
        sms = self.client.sms
        notes = self.client.monitoring.check_notifications()
        full = notes.get("SmsStorageFull") == "1"
        unread = notes.get("UnreadMessage")
        quiet = (
            unread is not None
            and int(unread) == 0
            and full == self.full
            and not self.left_behind
            and self.next_full_read is not None
            and time.monotonic() < self.next_full_read
        )
        if not quiet:
            counts = sms.sms_count()
            self.full = full
            inbox = int(counts.get("LocalInbox") or 0)
            if inbox > 0:
                msgs = self.list_all()
                for m in msgs:
                    sms.delete_sms(int(m["Index"]))
                    self.handled += 1
                self.last = msgs
            self.left_behind = False
            self.next_full_read = time.monotonic() + self.refresh_s
        self.polls += 1
        if time.monotonic() >= self.next_status:
            self.refresh_status()

    def refresh_status(self):
        """Optional calls, as the bridge makes them: firmwares differ, errors are ignored."""
        c = self.client
        for call in (c.device.information, c.monitoring.status, c.device.signal, c.net.current_plmn):
            try:
                call()
            except ResponseErrorException:
                pass
        self.next_status = time.monotonic() + self.refresh_s


def main():
    a = json.loads(sys.argv[1])
    interval = float(a["interval"])
    with Connection(a["url"], username=a["username"], password=a["password"], timeout=10) as conn:
        p = Poller(Client(conn), float(a.get("refresh_s", 60)))
        p.refresh_status()
        for _ in range(int(a.get("warmup", 10))):
            p.poll()
            time.sleep(interval)
        say({"ready": "idle"})
        wait_for_go()

        polls0 = p.polls
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(int(a["polls"])):
            p.poll()
            time.sleep(interval)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        say({"phase": "idle", "cpu_s": cpu, "wall_s": wall, "polls": p.polls - polls0})

        wait_for_go()
        want = int(a["messages"])
        polls0, handled0 = p.polls, p.handled
        wall0, cpu0 = time.perf_counter(), time.process_time()
        deadline = time.monotonic() + 120
        while p.handled - handled0 < want:
            p.poll()
            if p.handled - handled0 >= want:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"hilink_poll.py: only {p.handled - handled0} of {want} messages after 120 s")
            time.sleep(interval)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        say(
            {
                "phase": "messages",
                "cpu_s": cpu,
                "wall_s": wall,
                "polls": p.polls - polls0,
                "handled": p.handled - handled0,
            }
        )


if __name__ == "__main__":
    main()
