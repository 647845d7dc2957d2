"""The script the SSH access step runs on the hub (as root, with ``python3``, stdlib only): one operation per round
trip, its request as JSON on standard input, its answer as one JSON object on standard output.

Operations (``argv[1]``):
- ``survey``: groups and TLJH's sudoers file, each named account and every ``jupyter-*`` account (existence, home,
  shell, password lock, groups, ``~/.ssh/authorized_keys`` with its sha256, mode and owner), sshd's effective
  configuration (``sshd -T -C ...``) globally for the operator and per account, the main config's text, the drop-in's
  text, the operator's client address (``SSH_CONNECTION`` of the session that started this command), and the hub's
  users (name, admin) from JupyterHub's database (TLJH's ``state/jupyterhub.sqlite``), opened read-only.
- ``accounts``: create missing accounts exactly as TLJH's ``ensure_user``/``ensure_user_group`` do.
- ``keys``: replace ``authorized_keys`` files. Each is written BY THE ACCOUNT ITSELF (a child process that dropped
  root for the account's uid/gid), so a symlink planted in a home directory cannot redirect a root write; the file
  must still hash to what the plan read, the new bytes are checked (size and sha256) in the temp file before the
  rename, the directory is 0700 and the file 0600.
- ``dropin``: write (or remove) the sshd drop-in, check the whole configuration with ``sshd -t``, check the effective
  values it was meant to set; on any failure put the previous drop-in back (or remove it), in the same command.
- ``reload``: SIGHUP to the pid in sshd's ``PidFile`` — what systemd's ``ExecReload`` for ssh.service does; existing
  connections are not touched.
"""

SCRIPT = r'''
import grp, hashlib, json, os, pwd, signal, stat, subprocess, sys, tempfile

REQ = json.load(sys.stdin)
OUT = {}
MAX = 1 << 20


def sha(data):
    return hashlib.sha256(data).hexdigest()


def run(argv):
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)
        return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)


def verified_replace(path, data, mode, sha256, what):
    """data into a temp file beside path (synced, chmod mode), read back and checked (its size, and its sha256
    against the one planned), then renamed over path; the temp file is removed on any failure."""
    fd, tmp = tempfile.mkstemp(prefix=".tljh-wizard.", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        with open(tmp, "rb") as handle:
            back = handle.read()
        if len(back) != len(data) or sha(back) != sha256 or sha(data) != sha256:
            raise RuntimeError("%s did not arrive intact (size/sha256 differ)" % what)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX).decode("utf-8", "replace")
    except OSError:
        return None


def shadow_locked():
    locked = {}
    try:
        with open("/etc/shadow") as handle:
            for line in handle:
                parts = line.split(":")
                if len(parts) > 1:
                    locked[parts[0]] = parts[1].startswith("!")
    except OSError:
        pass
    return locked


def node(path, kind, is_kind):
    """(what path is: "symlink", kind when is_kind(mode), else "other"; its mode bits; its owner), without following
    a link; None when it cannot be read."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    what = "symlink" if stat.S_ISLNK(st.st_mode) else kind if is_kind(st.st_mode) else "other"
    return what, st.st_mode & 0o7777, st.st_uid


def keys_state(home):
    state = {"dir": "missing", "file": "missing"}
    ssh_dir = os.path.join(home, ".ssh")
    found = node(ssh_dir, "dir", stat.S_ISDIR)
    if found is None:
        return state
    state["dir"], state["dir_mode"], state["dir_uid"] = found
    if state["dir"] != "dir":
        return state
    path = os.path.join(ssh_dir, "authorized_keys")
    found = node(path, "file", stat.S_ISREG)
    if found is None:
        return state
    state["file"], state["mode"], state["uid"] = found
    if state["file"] == "file":
        try:  # the account owns the directory: never follow a link or block on a FIFO swapped in meanwhile
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            state["file"] = "other"
            return state
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            state["file"] = "other"
            return state
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX + 1)
        state["too_big"] = len(data) > MAX
        state["text"] = data[:MAX].decode("utf-8", "replace")
        state["sha256"] = sha(data)
    return state


def account(name, locked):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {"exists": False}
    groups = sorted({g.gr_name for g in grp.getgrall() if name in g.gr_mem} |
                    {g.gr_name for g in grp.getgrall() if g.gr_gid == entry.pw_gid})
    shell = entry.pw_shell or "/bin/sh"
    return {"exists": True, "uid": entry.pw_uid, "gid": entry.pw_gid, "home": entry.pw_dir, "shell": shell,
            "shell_ok": os.path.isfile(shell) and os.access(shell, os.X_OK), "locked": locked.get(name, False),
            "groups": groups, "keys": keys_state(entry.pw_dir)}


def operator_connection():
    pid = os.getpid()
    for _ in range(12):
        try:
            with open("/proc/%d/environ" % pid, "rb") as handle:
                for item in handle.read().split(b"\0"):
                    if item.startswith(b"SSH_CONNECTION="):
                        return item.split(b"=", 1)[1].decode()
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
        if pid <= 1:
            return None
    return None


def sshd_T(spec):
    return run([REQ["sshd"], "-T", "-f", REQ["config"], "-C", spec])


def hub_users(path):
    """[[name, admin], ...] from the hub's database, opened read-only; None when there is none to read."""
    if not path or not os.path.exists(path):
        return None
    try:
        import sqlite3
        connection = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
        try:
            return [[name, bool(admin)] for name, admin in connection.execute("SELECT name, admin FROM users")]
        finally:
            connection.close()
    except Exception:
        return None


def survey():
    locked = shadow_locked()
    names = list(REQ.get("accounts", []))
    everyone = sorted(e.pw_name for e in pwd.getpwall() if e.pw_name.startswith("jupyter-"))
    OUT["jupyter_accounts"] = everyone
    OUT["accounts"] = {name: account(name, locked) for name in sorted(set(names) | set(everyone))}
    OUT["groups"] = {}
    for group in ("jupyterhub-users", "jupyterhub-admins"):
        try:
            OUT["groups"][group] = list(grp.getgrnam(group).gr_mem)
        except KeyError:
            OUT["groups"][group] = None
    OUT["sudoers"] = os.path.exists("/etc/sudoers.d/jupyterhub-admins")
    connection = operator_connection()
    OUT["operator_connection"] = connection
    addr = connection.split()[0] if connection else "192.0.2.1"
    operator = REQ.get("operator") or "root"
    code, out, err = sshd_T("user=%s,host=%s,addr=%s" % (operator, addr, addr))
    OUT["sshd"] = {"status": code, "operator": out, "error": err.strip()[-2000:], "per_account": {}}
    if code == 0:  # Match blocks per account: only for the accounts asked about (every jupyter-* is read for keys)
        for name in names:
            code2, out2, err2 = sshd_T("user=%s,host=unknown,addr=192.0.2.1" % name)
            OUT["sshd"]["per_account"][name] = out2 if code2 == 0 else None
    OUT["hub_users"] = hub_users(REQ.get("hub_db"))
    OUT["main_config"] = read_text(REQ["config"])
    OUT["dropin_text"] = read_text(os.path.join(REQ["dropin_dir"], REQ["dropin_name"]))
    OUT["dropin_dir_exists"] = os.path.isdir(REQ["dropin_dir"])


def create_accounts():
    created, errors = [], []
    for item in REQ["create"]:
        name = item["name"]
        try:
            pwd.getpwnam(name)
            continue
        except KeyError:
            pass
        steps = [["useradd", "--create-home", name]]
        for argv in steps:
            code, out, err = run(argv)
            if code != 0:
                errors.append("%s: %s" % (" ".join(argv), err.strip()[-300:]))
                break
        else:
            home = pwd.getpwnam(name).pw_dir
            more = [["chmod", "o-rwx", home], ["gpasswd", "--add", name, "jupyterhub-users"]]
            if item.get("admin"):
                more.append(["gpasswd", "--add", name, "jupyterhub-admins"])
            for argv in more:
                code, out, err = run(argv)
                if code != 0:
                    errors.append("%s: %s" % (" ".join(argv), err.strip()[-300:]))
            created.append(name)
    OUT["created"], OUT["errors"] = created, errors


def write_as_user(item):
    """In a child that became the account: replace ~/.ssh/authorized_keys, verified. Returns an error or None."""
    entry = pwd.getpwnam(item["user"])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        message = ""
        try:
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.umask(0o077)
            os.chdir(entry.pw_dir)
            try:
                st = os.lstat(".ssh")
            except FileNotFoundError:
                os.mkdir(".ssh", 0o700)
                st = os.lstat(".ssh")
            if not stat.S_ISDIR(st.st_mode):
                raise RuntimeError("~/.ssh is not a directory (a symlink?); fix it by hand")
            os.chmod(".ssh", 0o700)
            path = ".ssh/authorized_keys"
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as handle:
                    current = sha(handle.read())
            except FileNotFoundError:
                current = "missing"
            except OSError as exc:
                raise RuntimeError("~/.ssh/authorized_keys cannot be read safely (%s)" % exc.strerror)
            if current != item["old_sha256"]:
                raise RuntimeError("~/.ssh/authorized_keys changed since the plan was made; plan again")
            verified_replace(path, item["text"].encode("utf-8"), 0o600, item["sha256"], "the new authorized_keys")
            dfd = os.open(".ssh", os.O_RDONLY)
            os.fsync(dfd)
            os.close(dfd)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
        os.write(write_end, message.encode("utf-8", "replace")[:2000])
        os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8", "replace") or None


def write_keys():
    OUT["written"], OUT["errors"] = [], []
    for item in REQ["files"]:
        try:
            error = write_as_user(item)
        except KeyError:
            error = "no such account"
        if error:
            OUT["errors"].append("%s: %s" % (item["user"], error))
        else:
            OUT["written"].append(item["user"])


def effective(keyword):
    code, out, err = run([REQ["sshd"], "-T", "-f", REQ["config"]])
    if code != 0:
        return None
    for line in out.splitlines():
        word, _, value = line.partition(" ")
        if word.lower() == keyword:
            return value.strip()
    return None


def put(path, text):
    if text is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    data = text.encode("utf-8")
    verified_replace(path, data, 0o644, sha(data), "the drop-in")


def dropin():
    directory = REQ["dropin_dir"]
    path = os.path.join(directory, REQ["dropin_name"])
    previous = read_text(path)
    if ("missing" if previous is None else sha(previous.encode("utf-8"))) != REQ["old_sha256"]:
        OUT["ok"], OUT["error"] = False, "%s changed since the plan was made; plan again" % path
        return
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    put(path, REQ["text"])
    code, out, err = run([REQ["sshd"], "-t", "-f", REQ["config"]])
    problem = None
    if code != 0:
        problem = "sshd -t refused the configuration: " + (err.strip() or out.strip())[-500:]
    else:
        for keyword, wanted in REQ.get("expect", {}).items():
            value = effective(keyword)
            if value != wanted:
                problem = "%s is still %s after the drop-in (an earlier file or a Match block sets it)" % (
                    keyword, value)
                break
    if problem:
        put(path, previous)
        OUT["ok"], OUT["error"], OUT["reverted"] = False, problem, True
        OUT["restored"] = read_text(path) == previous
        return
    OUT["ok"] = True


def reload_sshd():
    code, out, err = run([REQ["sshd"], "-T", "-f", REQ["config"]])
    pidfile = None
    for line in out.splitlines():
        word, _, value = line.partition(" ")
        if word.lower() == "pidfile":
            pidfile = value.strip()
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().split()[0])
        os.kill(pid, signal.SIGHUP)
    except (TypeError, OSError, ValueError, IndexError) as exc:
        OUT["ok"], OUT["error"] = False, "cannot signal sshd (PidFile %s): %s" % (pidfile, exc)
        return
    OUT["ok"], OUT["pid"] = True, pid


{"survey": survey, "accounts": create_accounts, "keys": write_keys, "dropin": dropin,
 "reload": reload_sshd}[sys.argv[1]]()
json.dump(OUT, sys.stdout)
'''
