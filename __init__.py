"""ComfyUI entry point for a Git-URL install of the sddr repository (not part of sddr_core).

ComfyUI-Manager's "Install via Git URL" clones this whole repository into
``ComfyUI/custom_nodes/<name>/`` and ComfyUI imports this file. The node pack itself lives in
``integrations/comfyui``; this file only re-exports its ``comfy_entrypoint`` (V3 node API) and
``WEB_DIRECTORY``.
The root ``requirements.txt`` installs the clone's own sddr (with its ``hf`` extra) into
ComfyUI's Python; :func:`comfy_entrypoint` also puts the clone first on ``sys.path`` so the
nodes use the clone's ``sddr_core`` (a ``git pull`` takes effect on restart).

Nothing runs at import time: pip, setuptools and pytest may import this file harmlessly.
"""

import os
import sys

_CLONE = os.path.dirname(os.path.abspath(__file__))
#: The pack's front-end extension (sizes shown under the refine nodes).
WEB_DIRECTORY = "./integrations/comfyui/web"


async def comfy_entrypoint():
    """Use the clone's ``sddr_core`` and return the pack's extension."""
    if os.path.isfile(os.path.join(_CLONE, "sddr_core", "__init__.py")) and (
        _CLONE not in sys.path
    ):
        sys.path.insert(0, _CLONE)
    from .integrations.comfyui import comfy_entrypoint as pack_entrypoint

    return await pack_entrypoint()
