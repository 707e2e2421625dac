"""Operators: a thin UI layer over :mod:`.pipeline` and :mod:`.worker`.

Generate is modal: it submits the depth job and polls it from a window timer (0.1 s), so
Blender stays responsive and Esc or the Cancel button stops it. In background mode (scripts,
tests) there are no timers, so it waits for the job instead.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import traceback

import bpy
import numpy as np
from bpy.props import BoolProperty, EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper

from . import artist, pipeline, worker
from .preferences import ADDON_ID, get_preferences

# The running job and the reusable worker process (Python objects cannot live in properties).
_STATE: dict = {"job": None, "client": None, "tmpdir": None, "progress": None}


def shutdown() -> None:
    """Stop any job and the worker process (unregister, 'Release worker')."""
    job = _STATE.get("job")
    if job is not None and not job.finished:
        job.cancel(hard=True)
    client = _STATE.get("client")
    if client is not None:
        client.stop()
    _STATE.update(job=None, client=None)
    _cleanup_tmp()


def _cleanup_tmp() -> None:
    tmp = _STATE.get("tmpdir")
    if tmp and os.path.isdir(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
    _STATE["tmpdir"] = None


def is_running() -> bool:
    """Whether a depth job of this session is in flight (``scene.sddr.running`` can be stale
    in a file saved while one ran)."""
    job = _STATE.get("job")
    return job is not None and not job.finished


def start_job(prefs, request: dict) -> worker.Job:
    """Start a depth job in the worker (or in process) with the add-on preferences."""
    timeout = float(prefs.timeout) if prefs is not None else None
    if prefs is not None and prefs.in_process:
        if not worker.sddr_importable():
            raise worker.WorkerError(
                "sddr_core does not import in Blender's own Python.",
                "Turn off 'In process' and set a worker Python in the add-on preferences.",
                code="sddr_core_missing",
            )
        return worker.InProcessJob(request, timeout=timeout)
    python = resolve_python(prefs)
    return worker_client(prefs, python).submit(request, timeout=timeout)


def worker_client(prefs, python: str | None = None) -> worker.WorkerClient:
    """The reusable worker process for the current preferences (started on first use)."""
    python = python or resolve_python(prefs)
    env = prefs.worker_env() if prefs is not None else {}
    client = _STATE.get("client")
    if client is None or client.python != python or client.env != env:
        if client is not None:
            client.stop()
        client = worker.WorkerClient(python, env=env)
        _STATE["client"] = client
    return client


def _preference_python(prefs) -> str:
    python = prefs.python_path.strip() if prefs is not None else ""
    return bpy.path.abspath(python) if python.startswith("//") else python


def resolve_python(prefs, *, search: bool = False) -> str:
    """The worker Python: the first where ``sddr_core`` imports, checked in the order of
    :func:`worker.python_candidates` (the preference first) and remembered in the preferences
    (``found_python``, ``found_summary``: what the panel says). ``search`` looks again even
    when a Python was found before ('Check Python').

    Raises:
        worker.WorkerError: no Python at all (``python_missing``), or none where sddr imports
            (``sddr_core_missing``, or the preference's own error when one is set).
    """
    preference = _preference_python(prefs)
    env = prefs.worker_env() if prefs is not None else {}
    key = json.dumps([preference, env])
    if (
        not search
        and prefs is not None
        and prefs.found_python
        and prefs.found_key == key
        and os.path.isfile(prefs.found_python)
    ):
        return prefs.found_python
    found = worker.find_worker_python(worker.python_candidates(preference), env=env)
    if prefs is not None:
        prefs.found_python, prefs.found_key = found["python"], key if found["python"] else ""
        prefs.found_summary = found["summary"]
    if found["python"]:
        return found["python"]
    if preference:
        worker.check_python_path(preference)  # the user's choice: its own error first
        raise worker.WorkerError(
            f"sddr is not installed in {preference} (nor in any other Python found).",
            found["summary"],
            code="sddr_core_missing",
        )
    if not found["tried"]:
        raise worker.WorkerError(
            "No Python found for the SDDR worker.", worker._python_fix(), "python_missing"
        )
    raise worker.WorkerError(
        f"sddr is not installed in any Python found ({len(found['tried'])} checked).",
        found["summary"],
        code="sddr_core_missing",
    )


def _install_target(prefs) -> str:
    """The Python an install command should target: the preference, else the first found."""
    preference = _preference_python(prefs)
    if preference:
        return preference
    candidates = worker.python_candidates("")
    for exe, origin in candidates:
        if origin.startswith("the clone's") or origin == "python3 on PATH":
            return exe
    return candidates[0][0] if candidates else "python3"


def error_fix(exc: worker.WorkerError, prefs) -> tuple[str, str]:
    """``(fix, command)`` for an error: where sddr is missing or broken, the install command
    from a wheel or clone that exists (sddr is on no package index)."""
    if exc.code not in ("sddr_core_missing", "sddr_core_broken"):
        return exc.fix, exc.command
    in_process = prefs is None or prefs.in_process
    python = sys.executable if in_process else _install_target(prefs)
    source = worker.find_install_source(prefs.sddr_source if prefs is not None else "")
    fix, command = worker.install_fix(python, source)
    if exc.code == "sddr_core_broken" and command:
        fix = "Repair that environment: reinstall sddr (Copy Command), or choose another Python."
    elif in_process and exc.code == "sddr_core_missing":
        fix = "Turn off 'In process' and set a worker Python, or " + fix[0].lower() + fix[1:]
    return fix, command


def _fail(op, settings, exc: BaseException) -> set[str]:
    if isinstance(exc, worker.WorkerError):
        prefs = get_preferences()
        if prefs is not None and exc.code in (
            "python_missing",
            "sddr_core_missing",
            "sddr_core_broken",
        ):
            prefs.found_python = ""  # look again next time
        fix, command = error_fix(exc, prefs)
        settings.set_error(exc.message, fix, exc.code, command, exc.model_id)
        if exc.details:
            print(f"[SDDR] {exc.message}\n{exc.details}", file=sys.stderr)
        text = str(exc)
    else:
        settings.set_error(str(exc), "", "error")
        traceback.print_exc()
        text = str(exc)
    settings.running = False
    settings.status = ""
    op.report({"ERROR"}, text)
    return {"CANCELLED"}


def _redraw(context) -> None:
    for window in getattr(context.window_manager, "windows", []):
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "PREFERENCES"):
                area.tag_redraw()


class SDDR_OT_generate(bpy.types.Operator):
    """Estimate the photo's depth with SDDR and build a textured mesh with a matching camera"""

    bl_idname = "sddr.generate"
    bl_label = "Generate"
    # UNDO: Ctrl+Z removes what Generate built (the undo step is pushed when it finishes)
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - bpy reads a set here

    _timer = None

    @classmethod
    def poll(cls, context):
        return context.scene is not None and not is_running()

    def _photo(self, settings) -> bpy.types.Image:
        if settings.image_source == "DATABLOCK":
            if settings.image is None:
                raise pipeline.PipelineError("Pick an image in the SDDR panel first.")
            return settings.image
        if not settings.image_path:
            raise pipeline.PipelineError("Choose a photo file in the SDDR panel first.")
        return pipeline.load_photo(settings.image_path)

    def execute(self, context):
        settings = context.scene.sddr
        settings.clear_error()
        try:
            photo = self._photo(settings)
            self._photo_name = photo.name
            if settings.depth_source == "FILE":
                if not settings.depth_path:
                    raise pipeline.PipelineError("Choose your depth map file first.")
                depth = pipeline.load_depth_file(settings.depth_path)
                self._build(context, photo, depth, None, settings.depth_convention, None)
                return {"FINISHED"}
            predictor = settings.predictor_name()
            if not predictor:
                raise pipeline.PipelineError("Type a predictor name (or file.py:object).")
            _cleanup_tmp()
            tmp = tempfile.mkdtemp(prefix="sddr_")
            _STATE["tmpdir"] = tmp
            prefs = get_preferences(context)
            request = {
                "image": pipeline.image_file_for_worker(photo, tmp),
                "predictor": predictor,
                "mode": settings.mode,
                "snap": bool(settings.snap_edges),
                "device": (prefs.device.strip() or None) if prefs is not None else None,
                "depth_out": os.path.join(tmp, "depth.npy"),
                "edges_out": os.path.join(tmp, "edges.npy"),
            }
            job = start_job(prefs, request)
        except Exception as exc:
            return _fail(self, settings, exc)
        _STATE["job"] = job
        progress = artist.Progress(settings.mode)
        _STATE["progress"] = progress
        settings.running = True
        settings.progress = 0.0
        settings.status = progress.label
        if bpy.app.background or context.window is None:
            job.wait()
            return self._finish(context, job)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = _STATE.get("job")
        if job is None:
            return self._stop_timer(context, {"CANCELLED"})
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            context.scene.sddr.status = "Cancelling..."
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        settings = context.scene.sddr
        progress = _STATE.get("progress") or artist.Progress(settings.mode)
        for msg in job.poll():
            if msg.get("type") == "progress":
                progress.update(msg["stage"], msg["done"], msg["total"])
        if not job.finished:
            settings.progress = progress.fraction  # moves within a stage, too
            settings.status = progress.label
            _redraw(context)
            return {"PASS_THROUGH"}
        self._stop_timer(context, None)
        return self._finish(context, job)

    def _stop_timer(self, context, result):
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        return result

    def _finish(self, context, job: worker.Job):
        settings = context.scene.sddr
        settings.running = False
        _STATE["job"] = None
        _STATE["progress"] = None
        try:
            if job.state == "cancelled":
                settings.status = "Cancelled."
                self.report({"WARNING"}, "SDDR: cancelled.")
                return {"CANCELLED"}
            if job.state != "done":
                raise job.error or worker.WorkerError("The depth job did not finish.")
            res = job.result or {}
            depth = np.load(res["depth"])
            edges = np.load(res["edges"]) if res.get("edges") else None
            photo = bpy.data.images[self._photo_name]
            out = self._build(
                context, photo, depth, edges, res.get("kind", "disparity"), res.get("focal_35mm")
            )
            total = res.get("timings", {}).get("total")
            if total is not None:
                settings.status += f" Depth in {total:.1f} s."
            return {"FINISHED"} if out else {"CANCELLED"}
        except Exception as exc:
            return _fail(self, settings, exc)
        finally:
            _cleanup_tmp()
            _redraw(context)

    def _build(self, context, photo, depth, edges, kind, focal_35mm):
        settings = context.scene.sddr
        t = time.perf_counter()
        out = pipeline.build_from_depth(
            context.scene,
            photo,
            depth,
            edges=edges,
            kind=kind,
            focal_35mm=focal_35mm,
            emission=settings.emission,
            set_render=settings.set_render,
            standard_view=settings.view_transform == "STANDARD",
            **pipeline.mesh_kwargs(settings),
        )
        _select(context, out["object"])
        data = out["mesh_data"]
        settings.progress = 1.0
        settings.status = (
            f"{len(data.vertices)} vertices, {len(data.faces)} faces "
            f"({data.faces_cut} cut) in {time.perf_counter() - t:.1f} s."
        )
        return out


def _select(context, obj) -> None:
    view_layer = context.view_layer
    if view_layer is None:
        return
    view_layer.update()  # newly linked objects show up in view_layer.objects after a sync
    if obj.name not in view_layer.objects:
        return
    for o in view_layer.objects:
        if o.select_get():
            o.select_set(False)
    obj.select_set(True)
    view_layer.objects.active = obj


def _sddr_object(context):
    obj = context.active_object
    if obj is not None and obj.get(pipeline.PROP_DEPTH):
        return obj
    return None


class SDDR_OT_cancel(bpy.types.Operator):
    """Stop the running depth estimation"""

    bl_idname = "sddr.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        job = _STATE.get("job")
        if job is not None and not job.finished:
            job.cancel()
            context.scene.sddr.status = "Cancelling..."
        else:
            context.scene.sddr.running = False
        return {"FINISHED"}


class SDDR_OT_rebuild(bpy.types.Operator):
    """Rebuild the selected SDDR mesh with the current settings from its stored depth
    (no network run)"""

    bl_idname = "sddr.rebuild"
    bl_label = "Rebuild Mesh"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 - bpy reads a set here

    @classmethod
    def poll(cls, context):
        return _sddr_object(context) is not None

    def execute(self, context):
        settings = context.scene.sddr
        settings.clear_error()
        try:
            out = pipeline.rebuild(
                context.scene,
                _sddr_object(context),
                emission=settings.emission,
                set_render=settings.set_render,
                standard_view=settings.view_transform == "STANDARD",
                **pipeline.mesh_kwargs(settings),
            )
        except Exception as exc:
            return _fail(self, settings, exc)
        data = out["mesh_data"]
        settings.status = f"Rebuilt: {len(data.faces)} faces ({data.faces_cut} cut)."
        return {"FINISHED"}


class SDDR_OT_export(bpy.types.Operator, ExportHelper):
    """Export the selected SDDR mesh with its texture"""

    bl_idname = "sddr.export"
    bl_label = "Export Mesh"

    format: EnumProperty(
        name="Format",
        items=(("GLB", "glTF binary (.glb)", ""), ("OBJ", "Wavefront (.obj)", "")),
        default="GLB",
    )
    overwrite: BoolProperty(name="Overwrite existing file", default=False)
    filename_ext = ".glb"
    filter_glob: StringProperty(default="*.glb;*.obj", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return _sddr_object(context) is not None

    def check(self, context):
        ext = "." + self.format.lower()
        if self.filename_ext != ext:
            self.filename_ext = ext
        return super().check(context)

    def invoke(self, context, event):
        self.filename_ext = "." + self.format.lower()
        return super().invoke(context, event)

    def execute(self, context):
        try:
            path = pipeline.export_mesh(
                _sddr_object(context), self.filepath, self.format, overwrite=self.overwrite
            )
        except Exception as exc:
            return _fail(self, context.scene.sddr, exc)
        self.report({"INFO"}, f"Exported {path}")
        return {"FINISHED"}


class SDDR_OT_save_depth(bpy.types.Operator, ExportHelper):
    """Save the selected SDDR mesh's depth map (16-bit PNG or 32-bit EXR) with sddr's writer"""

    bl_idname = "sddr.save_depth"
    bl_label = "Save Depth Map"

    format: EnumProperty(
        name="Format",
        items=(
            ("PNG", "16-bit PNG", "Range and convention stored in the file (sddr reads them)"),
            ("EXR", "OpenEXR (32-bit float)", "The values as they are"),
        ),
        default="PNG",
    )
    overwrite: BoolProperty(name="Overwrite existing file", default=False)
    filename_ext = ".png"
    filter_glob: StringProperty(default="*.png;*.exr", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return _sddr_object(context) is not None and not is_running()

    def check(self, context):
        ext = "." + self.format.lower()
        if self.filename_ext != ext:
            self.filename_ext = ext
        return super().check(context)

    def invoke(self, context, event):
        self.filename_ext = "." + self.format.lower()
        return super().invoke(context, event)

    def execute(self, context):
        settings = context.scene.sddr
        try:
            path = save_depth_map(
                context, _sddr_object(context), self.filepath, overwrite=self.overwrite
            )
        except Exception as exc:
            return _fail(self, settings, exc)
        settings.status = f"Depth saved to {path}"
        self.report({"INFO"}, f"Saved {path}")
        return {"FINISHED"}


def save_depth_map(context, obj, path: str, *, overwrite: bool = False) -> str:
    """Write ``obj``'s stored depth to ``path`` (``.png`` 16-bit / ``.exr``) with sddr's
    public writer, run in the worker (or here, in process); returns the path written."""
    path = bpy.path.abspath(path)
    if os.path.splitext(path)[1].lower() not in (".png", ".exr"):
        raise pipeline.PipelineError(f"Save the depth map as .png or .exr, not {path!r}.")
    if os.path.exists(path) and not overwrite:
        raise pipeline.PipelineError(f"{path} exists: tick Overwrite to replace it.")
    depth, _edges, kind = pipeline.read_depth_image(bpy.data.images[obj[pipeline.PROP_DEPTH]])
    tmp = tempfile.mkdtemp(prefix="sddr_save_")
    try:
        npy = os.path.join(tmp, "depth.npy")
        np.save(npy, depth.astype(np.float32))
        prefs = get_preferences(context)
        request = {"depth": npy, "kind": kind, "out": path, "overwrite": overwrite}
        if prefs is not None and prefs.in_process:
            return worker.save_depth(request)
        if is_running():
            raise worker.WorkerError(
                "A depth estimation is running.", "Wait for it or cancel it.", "busy"
            )
        return worker_client(prefs).save_depth(npy, kind, path, overwrite=overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class SDDR_OT_check_python(bpy.types.Operator):
    """Start the worker Python once, check sddr imports there and list its predictors"""

    bl_idname = "sddr.check_python"
    bl_label = "Check Python"

    def execute(self, context):
        prefs = get_preferences(context)
        if prefs is None:
            self.report({"ERROR"}, "Enable the SDDR Depth add-on first.")
            return {"CANCELLED"}
        try:
            if prefs.in_process:
                if not worker.sddr_importable():
                    raise worker.WorkerError(
                        "sddr_core does not import in Blender's own Python.",
                        "Turn off 'In process' and set a worker Python.",
                        "sddr_core_missing",
                    )
                items = worker.list_predictors()
                info = {"python": sys.executable, "sddr_version": "", "predictors": items}
            else:
                client_env = prefs.worker_env()
                python = resolve_python(prefs, search=True)
                client = worker.WorkerClient(python, env=client_env)
                try:
                    items = client.predictors()
                    hello = client.hello or {}
                finally:
                    client.stop()
                info = {
                    "python": hello.get("python", python),
                    "sddr_version": hello.get("sddr_version", ""),
                    "predictors": items,
                }
        except worker.WorkerError as exc:
            fix, command = error_fix(exc, prefs)
            prefs.check_status = f"{exc.message}\n{fix}" + (f"\n{command}" if command else "")
            scene = context.scene
            if scene is not None:
                scene.sddr.set_error(exc.message, fix, exc.code, command, exc.model_id)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        prefs.predictors_json = json.dumps(info["predictors"])
        prefs.check_status = (
            f"OK: sddr {info['sddr_version']} in {info['python']}, "
            f"{len(info['predictors'])} predictors."
        )
        if context.scene is not None and not prefs.in_process:
            context.scene.sddr.status = f"Worker Python: {info['python']}"
        if context.scene is not None:
            context.scene.sddr.clear_error()
        self.report({"INFO"}, prefs.check_status)
        return {"FINISHED"}


class SDDR_OT_release_worker(bpy.types.Operator):
    """Stop the worker process and free the memory its models use"""

    bl_idname = "sddr.release_worker"
    bl_label = "Release Worker"

    def execute(self, context):
        shutdown()
        if context.scene is not None:
            context.scene.sddr.running = False
        return {"FINISHED"}


class SDDR_OT_copy_fix(bpy.types.Operator):
    """Copy the suggested fix (a command) to the clipboard"""

    bl_idname = "sddr.copy_fix"
    bl_label = "Copy Command"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and bool(context.scene.sddr.last_command)

    def execute(self, context):
        command = context.scene.sddr.last_command
        context.window_manager.clipboard = command
        self.report({"INFO"}, f"Copied: {command}")
        return {"FINISHED"}


def weights_folder() -> str:
    """The folder sddr looks in for downloaded weights: the first of ``SDDR_WEIGHTS_DIR``, else
    the Hugging Face cache (``HF_HUB_CACHE``, ``HF_HOME/hub``, ``~/.cache/huggingface/hub``)."""
    env = os.environ.get("SDDR_WEIGHTS_DIR", "")
    if env.strip():
        return os.path.expanduser(env.split(os.pathsep)[0])
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache", "huggingface"
    )
    return os.path.join(os.path.expanduser(home), "hub")


class SDDR_OT_open_weights_folder(bpy.types.Operator):
    """Open the folder where sddr looks for model weights (the nearest existing one)"""

    bl_idname = "sddr.open_weights_folder"
    bl_label = "Open Weights Folder"

    def execute(self, context):
        folder = weights_folder()
        while folder and not os.path.isdir(folder):
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        bpy.ops.wm.path_open(filepath=folder)
        self.report({"INFO"}, f"Weights go in {weights_folder()}")
        return {"FINISHED"}


class SDDR_OT_open_preferences(bpy.types.Operator):
    """Open the SDDR Depth add-on preferences"""

    bl_idname = "sddr.open_preferences"
    bl_label = "Open Preferences"

    def execute(self, context):
        bpy.ops.screen.userpref_show()
        context.preferences.active_section = "ADDONS"
        bpy.ops.preferences.addon_show(module=ADDON_ID)
        return {"FINISHED"}
