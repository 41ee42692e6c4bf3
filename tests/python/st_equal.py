"""Two safetensors files hold the same tensors, bit for bit, and the same
metadata apart from the keys named with --ignore.

usage: st_equal.py A B [--ignore KEY ...]
Prints the first difference and exits 1; exits 0 when they agree."""
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    meta = header.pop("__metadata__", {})
    tensors = {
        name: (e["dtype"], e["shape"], data[e["data_offsets"][0] : e["data_offsets"][1]])
        for name, e in header.items()
    }
    return meta, tensors


def main(argv):
    if len(argv) < 2 or (len(argv) > 2 and argv[2] != "--ignore"):
        print(__doc__, file=sys.stderr)
        return 2
    ignore = set(argv[3:])
    (ma, ta), (mb, tb) = read(argv[0]), read(argv[1])
    for key in sorted((set(ma) | set(mb)) - ignore):
        if ma.get(key) != mb.get(key):
            print(f"metadata {key!r}: {ma.get(key)!r} vs {mb.get(key)!r}")
            return 1
    if set(ta) != set(tb):
        print(f"tensor names differ: {sorted(set(ta) ^ set(tb))[:5]}")
        return 1
    for name in sorted(ta):
        if ta[name] != tb[name]:
            da, sa, ba = ta[name]
            db, sb, bb = tb[name]
            if (da, sa) != (db, sb):
                print(f"{name}: {da} {sa} vs {db} {sb}")
            else:
                first = next(i for i in range(len(ba)) if ba[i] != bb[i])
                print(f"{name}: bytes differ from byte {first} of {len(ba)}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
