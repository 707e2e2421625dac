"""The pack's example workflows open clean in ComfyUI's template browser: a thumbnail and a
readable name each (ComfyUI's front end 1.32 shows a custom node template's file name as its
title and description), nodes that do not overlap, links that connect, a view that shows the
whole graph, and download URLs for the models ComfyUI's missing-models dialog offers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

PACK = Path(__file__).resolve().parents[3] / "integrations" / "comfyui"
WORKFLOWS = sorted((PACK / "example_workflows").glob("*.json"))
TITLE_BAR = 30  # LiteGraph draws a node's title above its pos
VIEW = (1600, 900)  # the smallest canvas the templates are laid out for


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_templates() -> None:
    assert len(WORKFLOWS) >= 3


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_each_template_has_a_thumbnail_and_a_readable_title(path: Path) -> None:
    thumb = path.with_suffix(".jpg")
    assert thumb.exists(), f"{thumb.name} missing (the template browser asks for it)"
    with Image.open(thumb) as im:
        assert im.format == "JPEG" and min(im.size) >= 128
        assert len(set(im.convert("L").resize((32, 32)).getdata())) > 20  # a picture
    title = path.stem.replace("comfyui_controlnet_aux", "")  # a pack's name, as spelt
    assert path.stem.startswith("SDDR ") and "_" not in title


def _boxes(wf: dict[str, Any]) -> list[tuple[int, float, float, float, float]]:
    return [
        (
            n["id"],
            n["pos"][0],
            n["pos"][1] - TITLE_BAR,
            n["pos"][0] + n["size"][0],
            n["pos"][1] + n["size"][1],
        )
        for n in wf["nodes"]
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_nodes_do_not_overlap_and_links_connect(path: Path) -> None:
    wf = _load(path)
    boxes = _boxes(wf)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
            assert apart, f"{path.stem}: nodes {a[0]} and {b[0]} overlap"
    nodes = {n["id"]: n for n in wf["nodes"]}
    assert wf["last_link_id"] == max((link[0] for link in wf["links"]), default=0)
    for lid, src, sslot, dst, dslot, kind in wf["links"]:
        assert lid in nodes[src]["outputs"][sslot]["links"]
        assert nodes[dst]["inputs"][dslot]["link"] == lid
        assert nodes[src]["outputs"][sslot]["type"] == kind == nodes[dst]["inputs"][dslot]["type"]
        # links run left to right, or down within a column
        assert tuple(nodes[src]["pos"]) < tuple(nodes[dst]["pos"]), (path.stem, lid)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_the_saved_view_shows_the_whole_graph(path: Path) -> None:
    wf = _load(path)
    ds = wf["extra"]["ds"]
    scale, (ox, oy) = ds["scale"], ds["offset"]
    for nid, x0, y0, x1, y1 in _boxes(wf):  # screen = (canvas + offset) * scale
        sx0, sy0, sx1, sy1 = (
            (x0 + ox) * scale,
            (y0 + oy) * scale,
            (x1 + ox) * scale,
            (y1 + oy) * scale,
        )
        assert sx0 >= 0 and sy0 >= 0 and sx1 <= VIEW[0] and sy1 <= VIEW[1], (path.stem, nid)
    # below 8 px / 14 px (min LOD font size / node text size) the front end 1.32 draws
    # nodes without text; keep a margin above it
    assert scale >= 0.65, f"{path.stem}: opens at {scale:.0%}, too small to read"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_model_loaders_carry_download_urls(path: Path) -> None:
    wf = _load(path)
    loaders = {"CheckpointLoaderSimple": "checkpoints", "ControlNetLoader": "controlnet"}
    listed = {m["name"]: m for m in wf.get("models", [])}
    for node in wf["nodes"]:
        if node["type"] not in loaders:
            continue
        (model,) = node["properties"]["models"]
        assert model["name"] == node["widgets_values"][0]
        assert model["directory"] == loaders[node["type"]]
        assert model["url"].startswith("https://huggingface.co/")
        assert model["url"].endswith("/" + model["name"]) and model["name"].endswith(".safetensors")
        assert listed[model["name"]] == model
