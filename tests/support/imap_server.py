"""A real IMAP server for Flare's tests: Debian's Dovecot (installed by scripts/test), run from a
temporary folder on 127.0.0.1 with one user, without TLS (Flare allows that to loopback only).

Prints {"port": N, "user": ..., "password": ...} once it listens. With --deliver, each line on
stdin is a JSON string: a mail, put in the INBOX with an IMAP APPEND, answered by {"delivered": n}.
It stops Dovecot and removes its folder when its stdin closes, so it never outlives the test
that started it.
"""

import argparse
import ctypes
import imaplib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--user", default="support")
    p.add_argument("--password", default="mailbox-pass-7f3")
    args = p.parse_args()
    if not os.path.exists(DOVECOT):
        sys.exit("the test IMAP server (Dovecot) is not installed: run ./scripts/test once, it installs it")
    # A short path: Dovecot's sockets live under it, and socket paths are short.
    d = tempfile.mkdtemp(prefix="fi-", dir="/tmp")
    os.chmod(d, 0o755)
    os.makedirs(f"{d}/mail")
    os.chown(f"{d}/mail", 65534, 65534)
    port = free_port()
    with open(f"{d}/users", "w") as f:
        f.write(f"{args.user}:{{PLAIN}}{args.password}\n")
    with open(f"{d}/dovecot.conf", "w") as f:
        f.write(f"""protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 100
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""")
    # Dovecot stops with this script even when the script is killed (PR_SET_PDEATHSIG).
    die_with_parent = lambda: ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
    server = subprocess.Popen([DOVECOT, "-F", "-c", f"{d}/dovecot.conf"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    log = open(f"{d}/log").read() if os.path.exists(f"{d}/log") else ""
                    sys.exit(f"Dovecot did not listen within 15 s: {log}")
                time.sleep(0.05)
        print(json.dumps({"port": port, "user": args.user, "password": args.password}), flush=True)
        delivered = 0
        for line in sys.stdin:
            if not line.strip():
                continue
            raw = json.loads(line).replace("\r\n", "\n").replace("\n", "\r\n")
            imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
            imap.login(args.user, args.password)
            imap.append("INBOX", None, None, raw.encode())
            imap.logout()
            delivered += 1
            print(json.dumps({"delivered": delivered}), flush=True)
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
