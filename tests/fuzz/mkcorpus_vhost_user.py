#!/usr/bin/env python3
# Writes the seed corpus of fuzz_vhost_user (tests/fuzz/corpus/fuzz_vhost_user/).
# Layout of an input: see the comment at the top of fuzz_vhost_user.c:
# byte 0 = fd count | 0x10 owned | 0x20 all protocol features | 0x40 via socket,
# bytes 1-2 = memfd size in 4 KiB pages, then the message (native = little endian).
import os, struct, sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_vhost_user")
os.makedirs(out, exist_ok=True)

OWNED, ALLPF, SOCK = 0x10, 0x20, 0x40

def msg(req, payload=b"", flags=1):
    return struct.pack("<III", req, flags, len(payload)) + payload

def seed(name, ctl, pages, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([ctl]) + struct.pack("<H", pages) + body)

def region(gpa, size, uaddr, off):
    return struct.pack("<QQQQ", gpa, size, uaddr, off)

U = 0x7f0000000000
seed("get_features", 0, 0, msg(1))
seed("set_features_need_reply", OWNED | ALLPF, 0, msg(2, struct.pack("<Q", 1 << 32 | 1 << 26), 1 | 8))
seed("qemu_init_sequence", SOCK | ALLPF, 0,
     msg(1) + msg(15) + msg(16, struct.pack("<Q", 0x900f)) + msg(17) + msg(36) + msg(3))
seed("set_mem_table_2", 2 | OWNED | ALLPF, 4096,
     msg(5, struct.pack("<II", 2, 0) + region(0, 0xa0000, U, 0) +
         region(0x100000, 0xf00000, U + 0x100000, 0x100000)))
seed("set_mem_table_2_sock", 2 | OWNED | ALLPF | SOCK, 4096,
     msg(5, struct.pack("<II", 2, 0) + region(0, 0xa0000, U, 0) +
         region(0x100000, 0xf00000, U + 0x100000, 0x100000)))
seed("set_vring_addr", OWNED, 0, msg(9, struct.pack("<IIQQQQ", 1, 1, U + 0x1000, U + 0x3000, U + 0x2000, 0x43000)))
seed("set_vring_num_base", OWNED | SOCK, 0,
     msg(8, struct.pack("<II", 0, 256)) + msg(10, struct.pack("<II", 0, 0)) + msg(11, struct.pack("<II", 0, 0)))
seed("set_vring_kick", 1 | OWNED, 0, msg(12, struct.pack("<Q", 0)))
seed("set_vring_call_nofd", OWNED, 0, msg(13, struct.pack("<Q", 1 | 0x100)))
seed("set_log_base", 1 | OWNED | ALLPF, 2, msg(6, struct.pack("<QQ", 0x1000, 0x1000)))
seed("inflight", 1 | OWNED | ALLPF | SOCK, 2,
     msg(31, struct.pack("<QQHHI", 0, 0, 2, 256, 0)) + msg(32, struct.pack("<QQHHI", 0x2000, 0, 2, 256, 0)))
seed("add_rem_mem_reg", 1 | OWNED | ALLPF | SOCK, 256,
     msg(37, struct.pack("<Q", 0) + region(0, 0x100000, U, 0)))
seed("net", OWNED | ALLPF | SOCK, 0,
     msg(19, bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0])) + msg(20, struct.pack("<Q", 1500)) +
     msg(18, struct.pack("<II", 1, 1)))
seed("status", OWNED | ALLPF | SOCK, 0,
     msg(40) + msg(39, struct.pack("<Q", 0xf)) + msg(39, struct.pack("<Q", 0)))
seed("truncated_mem_table", 1 | OWNED, 16, msg(5, struct.pack("<II", 1, 0) + region(0, 0x1000, U, 0))[:30])
seed("truncated_header_sock", 3 | SOCK, 0, msg(1)[:7])
seed("oversized", 0, 0, struct.pack("<III", 5, 1, 0xffffffff))
