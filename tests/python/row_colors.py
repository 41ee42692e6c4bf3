#!/usr/bin/env python3
"""The colour test of tinted class folders: for samples.npy of a conditional
model, images i of class (i // 8) % 10 (gantry sample without --label), the
mean colour of each class's bright pixels, and whether it is nearest (by
angle) to that class's own tint, the colours tests/make_image_set.c used.

usage: row_colors.py SAMPLES.npy MIN_RIGHT
Prints a line per class and exits 1 when fewer than MIN_RIGHT of the 10 are
nearest to their own colour; 77 (skipped) without NumPy."""
import sys

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipped")
    sys.exit(77)

TINTS = np.array([[255, 40, 40], [40, 255, 40], [60, 80, 255], [255, 255, 40], [255, 40, 255],
                  [40, 255, 255], [255, 140, 20], [150, 60, 255], [255, 255, 255], [120, 200, 60]], float)


def main():
    samples, min_right = np.load(sys.argv[1]), int(sys.argv[2])
    if samples.ndim != 4 or samples.shape[1] != 3:
        sys.exit(f"expected [N, 3, H, W] samples, got {samples.shape}")
    rgb = (samples.transpose(0, 2, 3, 1).reshape(samples.shape[0], -1, 3) + 1.0) / 2.0
    tints = TINTS / np.linalg.norm(TINTS, axis=1, keepdims=True)
    right = 0
    for k in range(10):
        rows = [i for i in range(samples.shape[0]) if (i // 8) % 10 == k]
        pixels = rgb[rows].reshape(-1, 3)
        bright = pixels[pixels.max(axis=1) > 0.25]
        if len(bright) == 0:
            print(f"class {k}: no bright pixels")
            continue
        mean = bright.mean(axis=0)
        nearest = int(np.argmax(tints @ (mean / np.linalg.norm(mean))))
        right += nearest == k
        print(f"class {k}: mean colour {np.round(mean * 255).astype(int).tolist()}, nearest tint {nearest}"
              f"{'' if nearest == k else '  (not its own)'}")
    print(f"{right} of 10 classes nearest to their own colour (need {min_right})")
    sys.exit(0 if right >= min_right else 1)


if __name__ == "__main__":
    main()
