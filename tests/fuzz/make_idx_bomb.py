#!/usr/bin/env python3
"""Writes a gzip IDX image file that is small on disk and huge inflated: a
header declaring COUNT images of 28x28 (by default 1 GiB of pixels), then
HOLD images of zeros (by default all of them), as one gzip member.

A reader must read no more of it than --limit asks for (issue 20).  With
--hold below --count the file is truncated: its header promises more than it
holds, which a reader must report, naming the file.

usage: make_idx_bomb.py OUT [--count N] [--hold N]
   e.g. make_idx_bomb.py /tmp/bomb-images-idx3-ubyte.gz (the regression corpus holds it in fuzz_idx's split form, --limit 200: tests/fuzz/regressions/idx/bomb-1gib-limit-200.split)
"""
import argparse
import struct
import zlib

GIB_OF_IMAGES = (1 << 30) // 784 + 1  # 28x28 bytes each: just over 1 GiB


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--count", type=int, default=GIB_OF_IMAGES, help="images the header declares")
    p.add_argument("--hold", type=int, default=None, help="images the file holds (default: COUNT)")
    a = p.parse_args()
    hold = a.count if a.hold is None else a.hold
    # gzip (wbits 31) with a fixed mtime, so the file is the same every time.
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(784 * 4096)
    with open(a.out, "wb") as f:
        f.write(z.compress(struct.pack(">IIII", 0x00000803, a.count, 28, 28)))
        left = hold * 784
        while left:
            n = min(left, len(chunk))
            f.write(z.compress(chunk[:n]))
            left -= n
        f.write(z.flush())


if __name__ == "__main__":
    main()
