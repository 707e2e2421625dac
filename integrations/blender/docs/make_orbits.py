"""Make ``orbits.png``: the Motorcycle meshes of the bpy tier's measured views, side by side.

The renders and numbers come from the bpy tier (``tests/integrations/blender/
test_blender_views.py``), which keeps them when ``SDDR_TEST_VIEWS_OUT`` is set::

    python integrations/blender/docs/make_render_example.py prepare /tmp/moto
    SDDR_TEST_MOTORCYCLE_DIR=/tmp/moto SDDR_TEST_VIEWS_OUT=/tmp/views \\
        .ci/blender-tests.sh -k views
    python integrations/blender/docs/make_orbits.py /tmp/views [TARGET]

Rows: the default layered mesh, the uncut mesh, the torn mesh (cut, not layered); columns:
-30, -15, +15 and +30 degrees. Magenta is where the world shows; "thin" is the share of the
band around thin parts where it shows (the fringes). Main Python (PIL, numpy).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ROWS = (("default", "layered (default)"), ("uncut", "uncut"), ("torn", "torn"))
ORBITS = (-30, -15, 15, 30)
PANEL_W = 263
LABEL_H = 15


def compose(views: Path, target: Path) -> None:
    measured = json.loads((views / "measured.json").read_text())
    panels = []
    for name, title in ROWS:
        row = []
        for deg in ORBITS:
            rgba = np.asarray(Image.open(views / f"{name}_orbit{deg:+d}.png").convert("RGBA"))
            rgb = rgba[..., :3].copy()
            rgb[rgba[..., 3] < 128] = (255, 0, 255)  # the world
            img = Image.fromarray(rgb)
            img = img.resize((PANEL_W, round(PANEL_W * img.height / img.width)), Image.LANCZOS)
            res = measured[name]
            label = f"{title} {deg:+d}°: world {100 * res[f'orbit{deg:+d}']:.1f} %"
            if name != "uncut":
                label += f", thin {100 * res[f'fringe{deg:+d}']:.1f} %"
            row.append((img, label))
        panels.append(row)
    h = panels[0][0][0].height + LABEL_H
    canvas = Image.new("RGB", (PANEL_W * len(ORBITS), h * len(ROWS)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(panels):
        for c, (img, label) in enumerate(row):
            canvas.paste(img, (c * PANEL_W, r * h + LABEL_H))
            draw.text((c * PANEL_W + 3, r * h + 2), label, fill=(0, 0, 0))
    small = canvas.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(target, optimize=True)
    print("wrote", target, target.stat().st_size // 1024, "KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("views", type=Path, help="the SDDR_TEST_VIEWS_OUT folder")
    parser.add_argument("target", nargs="?", type=Path, default=HERE / "orbits.png")
    args = parser.parse_args()
    compose(args.views, args.target)


if __name__ == "__main__":
    main()
