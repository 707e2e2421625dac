"""sddr for ComfyUI: sharp, consistent depth for ControlNet (SDDR depth refinement).

ComfyUI loads this package and calls :func:`comfy_entrypoint` (V3 node API). Everything else
is imported there, so a missing ``sddr`` package never breaks ComfyUI's start-up.
"""


async def comfy_entrypoint():
    """Register the model folders and return the extension listing the sddr nodes."""
    from .nodes import SddrExtension, setup

    setup()
    return SddrExtension()


#: The front-end extension showing the sizes sddr used under the refine nodes.
WEB_DIRECTORY = "./web"
