"""Which VGG19 layer tells that the subject is gone: the share of the photo's features each layer lost, against SSIM.

    python benchmarks/floor.py                      # the 512 px gallery's outputs, before and with nst.balance

For every output of the settings named (``docs/quality/<size>/<setting>/``, written by ``benchmarks/quality.py``)
and each layer, ``r = mean((F - P)²) / mean(P²)``: the share of the photo's features ``P`` the output's ``F`` lost.
Where SSIM to the photo is low (the subject gone), the layer whose ``r`` is high with it is the one a content floor
(``nst.balance``) should watch. The record, ``benchmarks/results/floor_<size>.json``, holds each output's numbers
and each layer's correlation with SSIM.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from quality import CONTENT, GALLERY, picture_path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2", "block5_conv2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--settings", nargs="+", default=["before", "defaults"])
    args = parser.parse_args()

    import tensorflow as tf

    import nst
    from nst.color import luminance
    from nst.objective import extractor_for
    from nst.result import device_name, versions

    extractor = extractor_for(nst.Config(content_layers=LAYERS, style_weight=0.0, precision="float32"))
    rows = []
    for setting in args.settings:
        for photo_name, painting_name in GALLERY:
            path = picture_path(setting, args.size, photo_name, painting_name)
            if not path.exists():
                continue
            output, photo = nst.load_image(path, args.size), nst.load_image(CONTENT / f"{photo_name}.jpg", args.size)
            ours, theirs = extractor(output), extractor(photo)
            lost = {layer: float(tf.reduce_mean(tf.square(ours[layer] - theirs[layer]))
                                 / tf.reduce_mean(tf.square(theirs[layer]))) for layer in LAYERS}
            ssim = float(tf.image.ssim(luminance(output)[..., :1], luminance(photo)[..., :1], max_val=1.0)[0])
            rows.append({"setting": setting, "photo": photo_name, "painting": painting_name, "ssim": ssim, **lost})
            print(f"{setting:>9} {photo_name} x {painting_name}: ssim {ssim:.3f}, "
                  + ", ".join(f"{layer} {lost[layer]:.2f}" for layer in LAYERS), flush=True)
    ssim = np.array([row["ssim"] for row in rows])
    correlation = {layer: float(np.corrcoef(ssim, [row[layer] for row in rows])[0, 1]) for layer in LAYERS}
    for layer, value in correlation.items():
        print(f"{layer}: correlation of the share lost with SSIM {value:+.3f}")
    record = {"size": args.size, "settings": args.settings, "device": device_name(), "versions": versions(),
              "correlation_with_ssim": correlation, "outputs": rows}
    (ROOT / "benchmarks" / "results" / f"floor_{args.size}.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
