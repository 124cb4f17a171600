#!/usr/bin/env python3
"""The work any client must do to pull one blob into an OCI layout, without a registry:
receive it over loopback TCP, hash it (sha256) and write it to a new file. Each part is timed
alone (median of REPS), so the pull rows of run.sh can be read against them.

usage: floor.py BLOB WORKDIR [REPS]     prints one `floor <part> <ms>` line per part

  tcp     a sendfile() sender and a receiver that discards (the loopback copy alone)
  sha256  hashlib (OpenSSL, SHA-NI where the CPU has it) over the blob in memory
  write   the blob written to a new file in WORKDIR in 1 MiB writes (page cache, no fsync)
  read    the blob read from the page cache (what a server's read() costs per byte)
"""
import hashlib, os, socket, statistics, sys, threading, time

blob, work = sys.argv[1], sys.argv[2]
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
size = os.path.getsize(blob)
CHUNK = 1 << 20


def tcp():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def send():
        conn, _ = srv.accept()
        with open(blob, "rb") as f:
            conn.sendfile(f)
        conn.close()

    t = threading.Thread(target=send)
    t.start()
    c = socket.create_connection(srv.getsockname())
    buf = memoryview(bytearray(CHUNK))
    start = time.perf_counter()
    got = 0
    while True:
        n = c.recv_into(buf)
        if not n:
            break
        got += n
    elapsed = time.perf_counter() - start
    t.join()
    c.close()
    srv.close()
    assert got == size, (got, size)
    return elapsed


with open(blob, "rb") as f:
    data = f.read()


def sha256():
    start = time.perf_counter()
    hashlib.sha256(data).digest()
    return time.perf_counter() - start


def write():
    path = os.path.join(work, "floor.out")
    if os.path.exists(path):
        os.unlink(path)
    view = memoryview(data)
    start = time.perf_counter()
    with open(path, "wb") as f:
        for i in range(0, size, CHUNK):
            f.write(view[i : i + CHUNK])
    elapsed = time.perf_counter() - start
    os.unlink(path)
    return elapsed


def read():
    start = time.perf_counter()
    with open(blob, "rb", buffering=0) as f:
        buf = bytearray(CHUNK)
        while f.readinto(buf):
            pass
    return time.perf_counter() - start


for name, fn in (("tcp", tcp), ("sha256", sha256), ("write", write), ("read", read)):
    fn()  # warm up
    print(f"floor {name} {statistics.median(fn() for _ in range(reps)) * 1000:.1f}")
