"""The scales ``nst.balance`` weighs a pair by, measured on every pair of the quality gallery.

    python benchmarks/balance.py

For each pair of ``benchmarks/quality.py``'s gallery and each style distance: ``C`` (the photo's feature energy at
the content layers) and ``S`` (the photo's own style loss against the painting), at ``nst.balance.ANALYSIS_SIZE``,
with the defaults' layers and pooling. Their medians are ``nst.balance.REFERENCE``; the record,
``benchmarks/results/balance.json``, keeps every pair's, and tests/test_balance.py checks the two agree.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import warnings
from pathlib import Path

from quality import CONTENT, GALLERY, STYLE

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    import nst
    from nst.balance import ANALYSIS_SIZE
    from nst.inputs import style_image
    from nst.objective import extractor_for, pair_scales
    from nst.result import device_name, versions

    record = {"analysis_size": ANALYSIS_SIZE, "device": device_name(), "versions": versions(), "distances": {}}
    for distance in nst.config.STYLE_LOSSES:
        config = dataclasses.replace(nst.Config(), style_loss=distance, precision="float32")
        extractor = extractor_for(config)
        rows = []
        for photo_name, painting_name in GALLERY:
            photo = nst.load_image(CONTENT / f"{photo_name}.jpg", 512)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a trimmed frame
                painting = style_image(STYLE / f"{painting_name}.jpg", config, 0)
            scales = pair_scales(extractor, photo, [painting], [1.0], config)
            rows.append({"photo": photo_name, "painting": painting_name, "content": scales.content,
                         "style": scales.style})
            print(f"{distance:>11} {photo_name} x {painting_name}: C {scales.content:.4g}, S {scales.style:.4g}")
        record["distances"][distance] = {
            "reference": [statistics.median(r["content"] for r in rows), statistics.median(r["style"] for r in rows)],
            "pairs": rows}
        print(distance, "reference (C, S):", record["distances"][distance]["reference"])
    out = ROOT / "benchmarks" / "results" / "balance.json"
    out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
