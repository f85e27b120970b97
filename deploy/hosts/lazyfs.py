#!/usr/bin/python3
"""A FUSE file system that loses what was not fsynced: deploy/hosts/disk.ts mounts one over a
daemon's data directory (`npm run hosts -- up --disk-faults`), in the spirit of Jepsen's
lazyfs.

    lazyfs.py BACKING MOUNTPOINT --name NAME --report FILE

A passthrough over the directory BACKING (the "disk") whose file data writes stay in this
process's memory (the "page cache"), per file, in 4 KiB pages, until fsync or fdatasync of
that file writes them to BACKING; reads see the cached pages over BACKING. Truncation (also
O_TRUNC) is cached the same way. Metadata operations (create, mkdir, rename, unlink, link,
symlink, chmod) go to BACKING at once: they are durable as soon as they return (stricter
than ext4, where a rename or a create is durable at the next journal commit or an fsync of
the directory); fsync of a directory therefore has nothing to flush. A rename moves the
cached pages of the file with it; an unlink drops them.

SIGUSR1 is the crash: every cached (unsynced) write is dropped, FILE gets a JSON report of
what was dropped ({"files": [{"path", "bytes", "pages", "size", "durableSize"}], "bytes",
"pages"}), and from then on every operation fails with EIO, until the file system is unmounted
and a new one mounted over BACKING, which then holds exactly what was fsynced. The first
line on stdout, "ready", says the mount is up. Needs root (or fuse access) and Debian's
python3-fusepy (libfuse2).
"""
import argparse
import errno
import json
import os
import signal
import sys
import threading

from fusepy import FUSE, FuseOSError, Operations

PAGE = 4096


class Dirty:
    """The cached state of one file: pages written since its last sync, and its size."""

    def __init__(self, size):
        self.pages = {}  # page number -> bytearray(PAGE)
        self.size = size  # logical size (what stat and reads see)
        self.durable_size = size  # size in BACKING
        self.trunc_min = size  # bytes at or past this in BACKING are not part of the file
        self.bytes = 0  # bytes written since the last sync (overlaps counted again)


class LazyFS(Operations):
    def __init__(self, root, report):
        self.root = os.path.realpath(root)
        self.report = report
        self.mu = threading.RLock()
        self.dirty = {}  # path -> Dirty
        self.failed = False

    # --- helpers ---

    def _full(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _check(self):
        if self.failed:
            raise FuseOSError(errno.EIO)

    def _backing_read(self, path, off, n, limit):
        """Up to n bytes of BACKING at off, zeros past `limit` (cached truncation) or past its end."""
        n = max(0, min(n, limit - off))
        if n == 0:
            return b""
        with open(self._full(path), "rb") as f:
            f.seek(off)
            b = f.read(n)
        return b + bytes(n - len(b))

    def _state(self, path):
        d = self.dirty.get(path)
        if d is None:
            size = os.lstat(self._full(path)).st_size
            d = self.dirty[path] = Dirty(size)
        return d

    def _page(self, path, d, pn):
        p = d.pages.get(pn)
        if p is None:
            p = bytearray(self._backing_read(path, pn * PAGE, PAGE, min(d.trunc_min, d.size)).ljust(PAGE, b"\0"))
            d.pages[pn] = p
        return p

    def _flush(self, path):
        d = self.dirty.pop(path, None)
        if d is None:
            return
        fd = os.open(self._full(path), os.O_WRONLY)
        try:
            if d.trunc_min < d.durable_size:
                os.ftruncate(fd, d.trunc_min)
            for pn in sorted(d.pages):
                start = pn * PAGE
                if start >= d.size:
                    continue
                os.pwrite(fd, bytes(d.pages[pn][: min(PAGE, d.size - start)]), start)
            os.ftruncate(fd, d.size)
            # BACKING is the disk of this model: what reached it survives the fault this file
            # system injects (the machine itself does not crash), so no fsync of BACKING.
        finally:
            os.close(fd)

    def crash(self):
        """SIGUSR1: drop every unsynced write, write the report, fail from now on."""
        with self.mu:
            files = [
                {"path": p, "bytes": d.bytes, "pages": len(d.pages), "size": d.size, "durableSize": d.durable_size}
                for p, d in sorted(self.dirty.items())
                if d.pages or d.size != d.durable_size or d.trunc_min != d.durable_size
            ]
            self.dirty.clear()
            self.failed = True
            rep = {"files": files, "bytes": sum(f["bytes"] for f in files), "pages": sum(f["pages"] for f in files)}
            tmp = self.report + ".tmp"
            with open(tmp, "w") as f:
                json.dump(rep, f)
            os.rename(tmp, self.report)

    # --- metadata: passthrough, durable at once ---

    def init(self, path):
        print("ready", flush=True)

    def access(self, path, mode):
        self._check()
        if not os.access(self._full(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        with self.mu:
            self._check()
            st = os.lstat(self._full(path))
            a = {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size", "st_uid", "st_blocks")}
            d = self.dirty.get(path)
            if d is not None:
                a["st_size"] = d.size
            return a

    def readdir(self, path, fh):
        self._check()
        return [".", ".."] + os.listdir(self._full(path))

    def readlink(self, path):
        self._check()
        return os.readlink(self._full(path))

    def mknod(self, path, mode, dev):
        self._check()
        os.mknod(self._full(path), mode, dev)

    def mkdir(self, path, mode):
        self._check()
        os.mkdir(self._full(path), mode)

    def rmdir(self, path):
        self._check()
        os.rmdir(self._full(path))

    def chmod(self, path, mode):
        self._check()
        os.chmod(self._full(path), mode)

    def chown(self, path, uid, gid):
        self._check()
        os.chown(self._full(path), uid, gid)

    def utimens(self, path, times=None):
        self._check()
        os.utime(self._full(path), times)

    def statfs(self, path):
        self._check()
        s = os.statvfs(self._full(path))
        return {k: getattr(s, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

    def symlink(self, target, source):
        self._check()
        os.symlink(source, self._full(target))

    def link(self, target, source):
        with self.mu:
            self._check()
            # A hard link shares the file's data: sync it first, so both names see the same bytes.
            self._flush(source)
            os.link(self._full(source), self._full(target))

    def unlink(self, path):
        with self.mu:
            self._check()
            os.unlink(self._full(path))
            self.dirty.pop(path, None)

    def rename(self, old, new):
        with self.mu:
            self._check()
            os.rename(self._full(old), self._full(new))
            self.dirty.pop(new, None)
            prefix = old.rstrip("/") + "/"
            for p in [p for p in self.dirty if p == old or p.startswith(prefix)]:
                self.dirty[new + p[len(old):]] = self.dirty.pop(p)

    # --- data: cached until fsync ---

    def create(self, path, mode, fi=None):
        with self.mu:
            self._check()
            fd = os.open(self._full(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            os.close(fd)
            self.dirty.pop(path, None)
            return 0

    def open(self, path, flags):
        with self.mu:
            self._check()
            os.close(os.open(self._full(path), flags & ~(os.O_TRUNC | os.O_CREAT | os.O_EXCL | os.O_APPEND)))
            if flags & os.O_TRUNC:
                self.truncate(path, 0)
            return 0

    def read(self, path, size, offset, fh):
        with self.mu:
            self._check()
            d = self.dirty.get(path)
            if d is None:
                with open(self._full(path), "rb") as f:
                    f.seek(offset)
                    return f.read(size)
            end = min(offset + size, d.size)
            out = bytearray()
            pos = offset
            while pos < end:
                pn, po = divmod(pos, PAGE)
                n = min(PAGE - po, end - pos)
                p = d.pages.get(pn)
                out += p[po : po + n] if p is not None else self._backing_read(path, pos, n, min(d.trunc_min, d.size))
                pos += n
            return bytes(out)

    def write(self, path, data, offset, fh):
        with self.mu:
            self._check()
            d = self._state(path)
            pos, i = offset, 0
            while i < len(data):
                pn, po = divmod(pos, PAGE)
                n = min(PAGE - po, len(data) - i)
                self._page(path, d, pn)[po : po + n] = data[i : i + n]
                pos += n
                i += n
            d.size = max(d.size, offset + len(data))
            d.bytes += len(data)
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.mu:
            self._check()
            d = self._state(path)
            if length < d.size:
                for pn in [pn for pn in d.pages if pn * PAGE >= length]:
                    del d.pages[pn]
                pn, po = divmod(length, PAGE)
                if po and pn in d.pages:
                    d.pages[pn][po:] = bytes(PAGE - po)
                d.trunc_min = min(d.trunc_min, length)
            d.size = length

    def fsync(self, path, datasync, fh):
        with self.mu:
            self._check()
            self._flush(path)

    def fsyncdir(self, path, datasync, fh):
        self._check()

    def flush(self, path, fh):
        self._check()

    def release(self, path, fh):
        return 0


def main():
    ap = argparse.ArgumentParser(description="a FUSE file system that keeps unsynced writes in memory and drops them on SIGUSR1")
    ap.add_argument("backing")
    ap.add_argument("mountpoint")
    ap.add_argument("--name", required=True, help="the file system's name in /proc/self/mountinfo")
    ap.add_argument("--report", required=True, help="where SIGUSR1 writes its JSON report of what was dropped")
    a = ap.parse_args()
    fs = LazyFS(a.backing, a.report)
    # The main thread sits in libfuse's C loop, where a Python signal handler would never run:
    # SIGUSR1 is blocked in every thread (libfuse's inherit the mask) and one thread waits for
    # it. crash() takes the mutex every request holds, so a write is either cached before the
    # drop (and dropped) or refused after it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})

    def waiter():
        signal.sigwait({signal.SIGUSR1})
        fs.crash()

    threading.Thread(target=waiter, daemon=True).start()
    FUSE(fs, a.mountpoint, foreground=True, nothreads=False, fsname=a.name, subtype="lazyfs", default_permissions=True, allow_other=True)


if __name__ == "__main__":
    sys.exit(main())
