"""servers.py - the systems under test: Postfix, Dovecot, smtp-sink, postern.

Each server lives in its own directory under the run's temporary directory,
with its own configuration files, listens on 127.0.0.1 high ports only, and
is stopped (with every descendant) by stop(). The system instances of
Postfix and Dovecot (/etc/postfix, /etc/dovecot) are never used.

The render_* functions are pure (configuration text from parameters) so the
unit tests can check them without the packages installed.
"""

import os
import pwd
import grp
import shutil
import signal
import subprocess
import time

from . import netutil, procstat

DOMAIN = "bench.test"
RELAY_DOMAIN = "relay.test"
MAIL_UID = 65534      # nobody: owns every Maildir of the anchors
MAIL_GID = 65534      # nogroup


def user_name(i):
    return "user%d" % i


def user_address(i):
    return "%s@%s" % (user_name(i), DOMAIN)


def user_password(i):
    return "pw-%d-bench" % i


def user_hash(i):
    """The stored password hash both systems get for user i: SHA512-CRYPT
    (5,000 rounds), the scheme most Dovecot installations use, so that a
    LOGIN costs the same hashing work on each side. Deterministic salt."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return "{SHA512-CRYPT}" + crypt.crypt(user_password(i), "$6$bench%d$" % i)


# --------------------------------------------------------------------- Postfix

def render_postfix_main(base, mode, lmtp_port=None):
    """main.cf for a private Postfix under base.

    mode 'virtual': local recipients are delivered to Maildir by virtual(8);
    mode 'lmtp': local recipients are handed to Dovecot LMTP on lmtp_port.
    Mail for RELAY_DOMAIN goes to the transport map (smtp-sink).
    """
    lines = [
        "# postern bench: private Postfix instance (generated)",
        "compatibility_level = 3.6",
        "queue_directory = %s/queue" % base,
        "data_directory = %s/data" % base,
        "mail_owner = postfix",
        "setgid_group = postdrop",
        "myhostname = anchor-postfix.bench.test",
        "mydomain = bench.test",
        "myorigin = $myhostname",
        "mydestination =",
        "inet_interfaces = 127.0.0.1",
        "inet_protocols = ipv4",
        "mynetworks = 127.0.0.0/8",
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
        "smtpd_recipient_restrictions =",
        "smtpd_peername_lookup = no",
        "smtp_host_lookup = native",
        "smtp_dns_support_level = disabled",
        "smtp_tls_security_level = none",
        "smtpd_tls_security_level = none",
        "alias_maps =",
        "alias_database =",
        "local_recipient_maps =",
        "biff = no",
        "append_dot_mydomain = no",
        "smtputf8_enable = no",
        "maillog_file = %s/maillog" % base,
        "maillog_file_prefixes = %s" % base,
        "virtual_mailbox_domains = %s" % DOMAIN,
        "virtual_mailbox_base = %s/../mail" % base,
        "virtual_mailbox_maps = texthash:%s/vmailbox" % base,
        "virtual_uid_maps = static:%d" % MAIL_UID,
        "virtual_gid_maps = static:%d" % MAIL_GID,
        "virtual_minimum_uid = 100",
        "relay_domains = %s" % RELAY_DOMAIN,
        "transport_maps = texthash:%s/transport" % base,
        "default_process_limit = 200",
        "in_flow_delay = 0",
    ]
    if mode == "lmtp":
        if not lmtp_port:
            raise ValueError("lmtp mode needs lmtp_port")
        lines.append("virtual_transport = lmtp:inet:127.0.0.1:%d" % lmtp_port)
    elif mode != "virtual":
        raise ValueError("unknown postfix mode %r" % mode)
    return "\n".join(lines) + "\n"


def render_postfix_master(smtp_port):
    """master.cf: smtpd on 127.0.0.1:smtp_port, no chroot, no pickup/tls."""
    services = [
        ("127.0.0.1:%d" % smtp_port, "inet", "n", "-", "n", "-", "-", "smtpd"),
        ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
        ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
        ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
        ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
        ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
        ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
        ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
        ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
        ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
        ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
        ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
        ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
        ("error", "unix", "-", "-", "n", "-", "-", "error"),
        ("retry", "unix", "-", "-", "n", "-", "-", "error"),
        ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
        ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
        ("lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"),
        ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
        ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
        ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
    ]
    out = ["# postern bench: private Postfix master.cf (generated)"]
    for s in services:
        out.append("%-20s %-10s %-5s %-5s %-5s %-7s %-5s %s" % s)
    return "\n".join(out) + "\n"


def render_postfix_vmailbox(nusers):
    return "".join("%s %s/%s/\n" % (user_address(i), DOMAIN, user_name(i))
                   for i in range(nusers))


def render_postfix_transport(sink_port):
    return "%s smtp:[127.0.0.1]:%d\n" % (RELAY_DOMAIN, sink_port)


# --------------------------------------------------------------------- Dovecot

def render_dovecot_conf(base, mail_root, ports, max_conns):
    """dovecot.conf for a private Dovecot: IMAP, POP3 and LMTP on loopback.

    ports: {'imap', 'pop3', 'lmtp'}; max_conns bounds the imap processes
    (one per connection) and every limit that follows from it.
    """
    procs = max_conns + 64
    return """# postern bench: private Dovecot instance (generated)
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/log
info_log_path = {base}/log
instance_name = bench-dovecot
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 100
mail_location = maildir:{mail}/%d/%n
mail_max_userip_connections = {procs}
mail_fsync = optimized
maildir_very_dirty_syncs = no
default_process_limit = {procs}
default_client_limit = {clients}
default_vsz_limit = 1G
login_trusted_networks = 127.0.0.0/8
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users
}}
protocol imap {{
  mail_max_userip_connections = {procs}
}}
protocol pop3 {{
  mail_max_userip_connections = {procs}
  pop3_uidl_format = %08Xu%08Xv
}}
protocol lmtp {{
  postmaster_address = postmaster@{domain}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = {clients}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = {clients}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service imap {{
  process_limit = {procs}
  client_limit = 1
}}
service pop3 {{
  process_limit = {procs}
}}
service anvil {{
  client_limit = {anvil}
}}
service auth {{
  client_limit = {anvil}
}}
""".format(base=base, mail=mail_root, procs=procs, clients=procs * 2 + 100,
           anvil=procs * 3 + 100, domain=DOMAIN, **ports)


def render_dovecot_users(nusers, mail_root):
    """passwd-file with N users, all mapped to MAIL_UID/MAIL_GID."""
    return "".join(
        "%s:%s:%d:%d::%s/%s/%s::\n"
        % (user_address(i), user_hash(i), MAIL_UID, MAIL_GID,
           mail_root, DOMAIN, user_name(i))
        for i in range(nusers))


# --------------------------------------------------------------- process base

class Server:
    """A started system: root pids to sample, a stop() that leaves nothing."""

    name = "server"

    def __init__(self):
        self.procs = []   # Popen objects we own

    def roots(self):
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self):
        for p in self.procs:
            kill_tree(p.pid, p)
        self.procs = []


def kill_tree(root, popen=None, grace=5.0):
    """SIGTERM root and its descendants, wait, then SIGKILL what is left."""
    pids, _ = procstat.tree_pids([root])
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        end = time.monotonic() + (grace if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < end:
            if popen is not None:
                popen.poll()
            alive = [p for p in pids if _alive(p)]
            if not alive:
                return
            time.sleep(0.05)
        pids = set(p for p in pids if _alive(p))
        if popen is not None:
            popen.poll()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = procstat.parse_stat(f.read())
        return st is not None and st["state"] != "Z"
    except OSError:
        return False


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def make_maildir(path, uid=MAIL_UID, gid=MAIL_GID):
    for sub in ("", "cur", "new", "tmp"):
        d = os.path.join(path, sub)
        os.makedirs(d, exist_ok=True)
        os.chown(d, uid, gid)
        os.chmod(d, 0o700)


def chown_tree(path, uid=MAIL_UID, gid=MAIL_GID):
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, gid)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), uid, gid)


class Postfix(Server):
    """A private Postfix: smtpd on loopback, virtual(8) or LMTP delivery."""

    name = "postfix"

    def __init__(self, root, nusers, mode="virtual", sink_port=None, lmtp_port=None):
        super().__init__()
        self.base = os.path.join(root, "postfix")
        self.mail_root = os.path.join(root, "mail")
        self.port = netutil.free_port()
        self.nusers = nusers
        self.mode = mode
        self.sink_port = sink_port or 9
        self.lmtp_port = lmtp_port
        self.master_pid = None

    def maildir(self, i):
        return os.path.join(self.mail_root, DOMAIN, user_name(i))

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        os.makedirs(os.path.join(self.mail_root, DOMAIN), exist_ok=True)
        os.chown(self.mail_root, MAIL_UID, MAIL_GID)
        os.chown(os.path.join(self.mail_root, DOMAIN), MAIL_UID, MAIL_GID)
        os.makedirs(os.path.join(self.base, "queue"), exist_ok=True)
        os.makedirs(os.path.join(self.base, "data"), exist_ok=True)
        pfuser = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.base, "data"), pfuser.pw_uid, pfuser.pw_gid)
        _write(os.path.join(self.base, "main.cf"),
               render_postfix_main(self.base, self.mode, self.lmtp_port))
        _write(os.path.join(self.base, "master.cf"), render_postfix_master(self.port))
        _write(os.path.join(self.base, "vmailbox"), render_postfix_vmailbox(self.nusers))
        _write(os.path.join(self.base, "transport"), render_postfix_transport(self.sink_port))
        r = subprocess.run(["postfix", "-c", self.base, "start"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: %s\n%s" % (r.stdout, self._log_tail()))
        pidfile = os.path.join(self.base, "queue", "pid", "master.pid")
        if not netutil.wait_until(lambda: os.path.exists(pidfile), 10):
            raise RuntimeError("postfix master did not write its pid\n" + self._log_tail())
        with open(pidfile) as f:
            self.master_pid = int(f.read().strip())
        if not netutil.wait_until(lambda: netutil.probe("smtp", self.port), 15, 0.1):
            self.stop()
            raise RuntimeError("postfix does not answer SMTP\n" + self._log_tail())

    def roots(self):
        return [self.master_pid] if self.master_pid and _alive(self.master_pid) else []

    def queue_empty(self):
        """True when no message is left in incoming/active/deferred/maildrop."""
        q = os.path.join(self.base, "queue")
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(os.path.join(q, sub)):
                if files:
                    return False
        return True

    def _log_tail(self, n=30):
        try:
            with open(os.path.join(self.base, "maillog"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no maillog)"

    def stop(self):
        if self.master_pid is None:
            return
        subprocess.run(["postfix", "-c", self.base, "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        netutil.wait_until(lambda: not _alive(self.master_pid), 10, 0.1)
        if _alive(self.master_pid):
            kill_tree(self.master_pid)
        self.master_pid = None


class Dovecot(Server):
    """A private Dovecot: IMAP, POP3 and LMTP on loopback, Maildir, passwd-file."""

    name = "dovecot"

    def __init__(self, root, nusers, max_conns=200):
        super().__init__()
        self.base = os.path.join(root, "dovecot")
        self.mail_root = os.path.join(root, "mail")
        p = netutil.free_ports(3)
        self.ports = {"imap": p[0], "pop3": p[1], "lmtp": p[2]}
        self.nusers = nusers
        self.max_conns = max_conns
        self.conf = os.path.join(self.base, "dovecot.conf")

    def maildir(self, i):
        return os.path.join(self.mail_root, DOMAIN, user_name(i))

    def start(self):
        for d in (self.base, os.path.join(self.base, "state")):
            os.makedirs(d, exist_ok=True)
        os.makedirs(os.path.join(self.mail_root, DOMAIN), exist_ok=True)
        os.chown(self.mail_root, MAIL_UID, MAIL_GID)
        os.chown(os.path.join(self.mail_root, DOMAIN), MAIL_UID, MAIL_GID)
        _write(self.conf, render_dovecot_conf(self.base, self.mail_root, self.ports,
                                              self.max_conns))
        _write(os.path.join(self.base, "users"),
               render_dovecot_users(self.nusers, self.mail_root), 0o640)
        os.chown(os.path.join(self.base, "users"), 0, grp.getgrnam("dovecot").gr_gid)
        for i in range(self.nusers):
            make_maildir(self.maildir(i))
        p = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                             stdout=subprocess.DEVNULL, stderr=open(
                                 os.path.join(self.base, "stderr"), "w"),
                             preexec_fn=_raise_nofile)
        self.procs.append(p)
        ok = netutil.wait_until(
            lambda: p.poll() is None and netutil.probe("imap", self.ports["imap"])
            and netutil.probe("pop3", self.ports["pop3"]), 15, 0.1)
        if not ok:
            self.stop()
            raise RuntimeError("dovecot does not answer\n" + self._log_tail())

    def _log_tail(self, n=30):
        out = []
        for name in ("stderr", "log"):
            try:
                with open(os.path.join(self.base, name), errors="replace") as f:
                    out.extend(f.readlines()[-n:])
            except OSError:
                pass
        return "".join(out)


def _raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class SmtpSink(Server):
    """Postfix's smtp-sink on loopback, counting messages received."""

    name = "smtp-sink"

    def __init__(self, root):
        super().__init__()
        self.base = os.path.join(root, "sink")
        self.port = netutil.free_port()
        self.out = os.path.join(self.base, "counters")

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        f = open(self.out, "w")
        p = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", "-h", "sink.bench.test",
                              "127.0.0.1:%d" % self.port, "256"],
                             stdout=f, stderr=subprocess.STDOUT, cwd=self.base)
        f.close()
        self.procs.append(p)
        if not netutil.wait_until(lambda: netutil.probe("smtp", self.port), 10, 0.05):
            self.stop()
            raise RuntimeError("smtp-sink does not answer")

    def messages(self):
        try:
            with open(self.out, errors="replace") as f:
                return parse_sink_counters(f.read())
        except OSError:
            return 0


def parse_sink_counters(text):
    """Last 'mesg=N' of smtp-sink -c output (records end in CR), else 0."""
    i = text.rfind("mesg=")
    if i < 0:
        return 0
    j = i + 5
    k = j
    while k < len(text) and text[k].isdigit():
        k += 1
    return int(text[j:k]) if k > j else 0


def have_anchor_packages():
    return all(shutil.which(x) for x in ("postfix", "dovecot", "smtp-source", "smtp-sink"))


def check_accounts():
    """Raise when the unprivileged accounts the anchors need are missing."""
    for u in ("postfix", "dovecot", "dovenull", "nobody"):
        pwd.getpwnam(u)
    for g in ("postdrop", "dovecot", "nogroup"):
        grp.getgrnam(g)
