"""glTF 2.0 binary (GLB): one mesh, with vertex colours or a photo texture, as browser viewers show them;
a mesh of fixed topology animated by morph targets (a face over a video's frames); and a mesh with
named blendshapes (a fitted head with its expressions)."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from vrn_studio.export.png import encode_png
from vrn_studio.mesh import Mesh, TexturedMesh

GLB_MAGIC = 0x46546C67  # "glTF"
CHUNK_JSON = 0x4E4F534A  # "JSON"
CHUNK_BIN = 0x004E4942  # "BIN\0"
_FLOAT, _UNSIGNED_INT = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_LINEAR, _CLAMP = 9729, 33071


def export_glb(mesh: Mesh) -> bytes:
    """Encode a mesh as a binary glTF 2.0 file.

    Parameters
    ----------
    mesh : Mesh
        Vertices are written as they are; glTF expects y up and a right-handed frame, so
        pass a mesh through :func:`vrn_studio.mesh.to_viewer_frame` first.

    Returns
    -------
    bytes
        A GLB with one node, one mesh and one triangle primitive: ``POSITION`` (float32
        VEC3 with min/max), ``NORMAL`` when the mesh has normals, ``COLOR_0`` when it has
        colours, indices as UNSIGNED_INT, and a white, non-metallic, double-sided material
        so vertex colours show unchanged. A mesh without triangles gives a valid file with
        an empty scene.

    Notes
    -----
    glTF defines ``COLOR_0`` as *linear* RGB, while photo colours are sRGB. Colours are
    therefore converted to linear and stored as float32 VEC3 (8-bit storage would band
    the dark tones after linearisation); viewers convert back, so the model shows the
    photo's colours. :func:`srgb_to_linear` is the conversion.

    Examples
    --------
    >>> data = export_glb(Mesh(np.eye(3), [[0, 1, 2]], colors=[[255, 128, 0]] * 3))
    >>> data[:4], len(data) % 4
    (b'glTF', 0)
    """
    colors = None if mesh.colors is None else srgb_to_linear(mesh.colors)
    return _encode(mesh, colors=colors)


def export_textured_glb(textured: TexturedMesh) -> bytes:
    """Encode a photo-textured mesh as a binary glTF 2.0 file.

    Parameters
    ----------
    textured : TexturedMesh
        From :func:`vrn_studio.mesh.texture_from_photo`; its mesh in the frame to write
        (the viewer frame for other programs, as for :func:`export_glb`).

    Returns
    -------
    bytes
        A GLB like :func:`export_glb`'s, with ``TEXCOORD_0`` instead of ``COLOR_0`` and a
        material whose ``baseColorTexture`` is the texture, embedded as PNG (sRGB, as glTF
        expects of base colours), linear filtering, clamped at the edges.

    Examples
    --------
    >>> from vrn_studio.mesh import TexturedMesh
    >>> tm = TexturedMesh(Mesh(np.eye(3), [[0, 1, 2]]), np.zeros((3, 2)), np.zeros((2, 2, 3), np.uint8),
    ...                   np.ones(1, bool), (0, 0))
    >>> export_textured_glb(tm)[:4]
    b'glTF'
    """
    return _encode(textured.mesh, uv=textured.uv, png=encode_png(textured.texture))


def export_animated_glb(
    base: Mesh, targets: np.ndarray, times: np.ndarray, weights: np.ndarray, *,
    uv: np.ndarray | None = None, texture: np.ndarray | None = None,
) -> bytes:
    """Encode a mesh whose vertices move over time as a binary glTF 2.0 file that browser
    viewers play: one morph target per pose, one animation of the morph weights.

    Parameters
    ----------
    base : Mesh
        Topology and rest pose, in the frame to write (e.g. through
        :func:`vrn_studio.mesh.to_viewer_frame`).
    targets : np.ndarray, shape (K, N, 3)
        Pose k's vertex positions minus the base's (glTF's morph-target displacements).
    times : np.ndarray, shape (T,)
        Keyframe times in seconds, increasing.
    weights : np.ndarray, shape (T, K)
        Each keyframe's morph weights (one-hot to show pose k; between keyframes viewers
        interpolate linearly, so the surface moves smoothly from pose to pose).
    uv, texture : np.ndarray, optional
        ``TEXCOORD_0`` (N, 2) and the (H, W, 3) uint8 RGB image they index, embedded as PNG.

    Returns
    -------
    bytes
        A GLB like :func:`export_textured_glb`'s (or :func:`export_glb`'s without a
        texture), whose primitive has K ``POSITION`` targets and whose one animation drives
        the node's ``weights`` (LINEAR sampler, times as its input).

    Examples
    --------
    >>> tri = Mesh(np.eye(3), [[0, 1, 2]])
    >>> data = export_animated_glb(tri, np.zeros((2, 3, 3)), np.array([0.0, 0.5]), np.eye(2))
    >>> data[:4], b'"path":"weights"' in data
    (b'glTF', True)
    """
    targets = np.asarray(targets, np.float32)
    times, weights = np.asarray(times, np.float32), np.asarray(weights, np.float32)
    if targets.ndim != 3 or targets.shape[1:] != (len(base.vertices), 3):
        raise ValueError(f"targets must be (K, {len(base.vertices)}, 3); got {targets.shape}")
    if times.ndim != 1 or weights.shape != (len(times), len(targets)) or not len(times):
        raise ValueError(f"weights must be (T, K) = ({len(times)}, {len(targets)}) with T >= 1; got {weights.shape}")
    if np.any(np.diff(times) <= 0):
        raise ValueError("keyframe times must increase")
    png = None if texture is None else encode_png(texture)
    return _encode(base, uv=uv, png=png, morph=_Morph(targets, np.zeros(len(targets)), animation=(times, weights)))


def export_blendshape_glb(base: Mesh, targets: np.ndarray, names: list[str], weights: np.ndarray) -> bytes:
    """Encode a mesh with named blendshapes (glTF morph targets) as a binary glTF 2.0 file.

    Parameters
    ----------
    base : Mesh
        The mesh with every blendshape at weight 0, upright (:func:`vrn_studio.mesh.to_viewer_frame`);
        its vertex colours are written as :func:`export_glb` writes them.
    targets : np.ndarray, shape (K, N, 3)
        Each blendshape's displacement of the vertices at weight 1.
    names : list of str
        The K blendshapes' names, stored as the mesh's ``extras.targetNames`` (the name list
        Blender, three.js and Babylon.js read).
    weights : np.ndarray, shape (K,)
        The weights the file opens with (the mesh's default ``weights``).

    Returns
    -------
    bytes
        A GLB as :func:`export_glb`'s, whose primitive has K ``POSITION`` targets; no animation.

    Examples
    --------
    >>> base = Mesh(np.eye(3), [[0, 1, 2]])
    >>> data = export_blendshape_glb(base, np.ones((2, 3, 3)), ["jawOpen", "eyeBlink_L"], np.array([0.5, 0.0]))
    >>> gltf, _ = read_glb(data)
    >>> gltf["meshes"][0]["extras"]["targetNames"], gltf["meshes"][0]["weights"]
    (['jawOpen', 'eyeBlink_L'], [0.5, 0.0])
    """
    targets, weights = np.asarray(targets, np.float32), np.asarray(weights, np.float64)
    if targets.ndim != 3 or targets.shape[1:] != (len(base.vertices), 3):
        raise ValueError(f"targets must be (K, {len(base.vertices)}, 3); got {targets.shape}")
    if len(names) != len(targets) or weights.shape != (len(targets),):
        raise ValueError(f"names and weights must have one entry per target ({len(targets)})")
    colors = None if base.colors is None else srgb_to_linear(base.colors)
    return _encode(base, colors=colors, morph=_Morph(targets, weights, names=list(names)))


@dataclass(frozen=True)
class _Morph:
    """Morph targets of a GLB: displacements (K, N, 3), default weights (K,), optional names and
    animation ``(times (T,), weights (T, K))``."""

    targets: np.ndarray
    weights: np.ndarray
    names: list[str] | None = None
    animation: tuple[np.ndarray, np.ndarray] | None = None


def _encode(mesh: Mesh, *, colors: np.ndarray | None = None, uv: np.ndarray | None = None,
            png: bytes | None = None, morph: _Morph | None = None) -> bytes:
    """A GLB of ``mesh`` with optional linear ``COLOR_0`` (N, 3), ``TEXCOORD_0`` (N, 2), PNG
    texture and morph targets (:class:`_Morph`)."""
    gltf: dict = {
        "asset": {"version": "2.0", "generator": "VRN Studio"},
        "scene": 0,
        "scenes": [{}],
    }
    binary = b""
    if not mesh.is_empty:
        position = mesh.vertices.astype("<f4")
        arrays = [("POSITION", position)]
        if mesh.normals is not None:
            arrays.append(("NORMAL", mesh.normals.astype("<f4")))
        if colors is not None:
            arrays.append(("COLOR_0", np.asarray(colors).astype("<f4")))
        if uv is not None:
            arrays.append(("TEXCOORD_0", np.asarray(uv).astype("<f4")))
        arrays.append(("indices", mesh.faces.astype("<u4").reshape(-1, 1)))
        if morph is not None:
            arrays += [(f"target {k}", target.astype("<f4")) for k, target in enumerate(morph.targets)]
            if morph.animation is not None:
                times, weights = morph.animation
                arrays += [("time", times.astype("<f4").reshape(-1, 1)),
                           ("weights", weights.astype("<f4").reshape(-1, 1))]
        views, accessors, attributes, offset = [], [], {}, 0
        for index, (name, array) in enumerate(arrays):
            is_index, is_vertex = name == "indices", name.isupper() or name.startswith("target")
            view = {"buffer": 0, "byteOffset": offset, "byteLength": array.nbytes}
            if is_index or is_vertex:
                view["target"] = _ELEMENT_ARRAY_BUFFER if is_index else _ARRAY_BUFFER
            views.append(view)
            accessors.append(
                {
                    "bufferView": index,
                    "componentType": _UNSIGNED_INT if is_index else _FLOAT,
                    "count": len(array),
                    "type": "SCALAR" if array.shape[1] == 1 else f"VEC{array.shape[1]}",
                }
            )
            if name in ("POSITION", "time") or name.startswith("target"):  # glTF requires their bounds
                accessors[-1].update(min=array.min(axis=0).tolist(), max=array.max(axis=0).tolist())
            if name.isupper():
                attributes[name] = index
            offset += array.nbytes  # every array is a whole number of 4-byte words
        binary = b"".join(array.tobytes() for _, array in arrays)
        index_accessor = next(i for i, (name, _) in enumerate(arrays) if name == "indices")
        material: dict = {
            "name": "photo texture" if png is not None else "vertex colours",
            "pbrMetallicRoughness": {
                "baseColorFactor": [1.0, 1.0, 1.0, 1.0],
                "metallicFactor": 0.0,
                "roughnessFactor": 1.0,
            },
            "doubleSided": True,
        }
        if png is not None:
            views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(png)})
            binary += png + b"\0" * (-len(png) % 4)
            material["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0, "texCoord": 0}
            gltf.update(
                images=[{"bufferView": len(views) - 1, "mimeType": "image/png", "name": "photo"}],
                samplers=[{"magFilter": _LINEAR, "minFilter": _LINEAR, "wrapS": _CLAMP, "wrapT": _CLAMP}],
                textures=[{"sampler": 0, "source": 0}],
            )
        primitive = {"attributes": attributes, "indices": index_accessor, "material": 0, "mode": 4}
        face_mesh: dict = {"name": "face", "primitives": [primitive]}
        if morph is not None:
            first, count = index_accessor + 1, len(morph.targets)
            primitive["targets"] = [{"POSITION": first + k} for k in range(count)]
            face_mesh["weights"] = [float(w) for w in morph.weights]
            if morph.names is not None:
                face_mesh["extras"] = {"targetNames": morph.names}
            if morph.animation is not None:
                gltf["animations"] = [{
                    "name": "video",
                    "samplers": [{"input": first + count, "output": first + count + 1, "interpolation": "LINEAR"}],
                    "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}],
                }]
        gltf.update(
            scenes=[{"nodes": [0]}],
            nodes=[{"mesh": 0, "name": "face"}],
            meshes=[face_mesh],
            materials=[material],
            buffers=[{"byteLength": len(binary)}],
            bufferViews=views,
            accessors=accessors,
        )
    chunks = _chunk(CHUNK_JSON, json.dumps(gltf, separators=(",", ":")).encode("utf-8"), b" ")
    if binary:
        chunks += _chunk(CHUNK_BIN, binary, b"\0")
    return struct.pack("<III", GLB_MAGIC, 2, 12 + len(chunks)) + chunks


def read_glb(data: bytes) -> tuple[dict, dict[int, np.ndarray]]:
    """Read back a GLB as this module writes it: its JSON and every accessor as an array.

    Returns
    -------
    gltf : dict
        The JSON chunk.
    accessors : dict of int to np.ndarray
        Accessor index -> (count, components) array (float32, or uint32 for indices), a view
        of ``data``.

    Examples
    --------
    >>> gltf, arrays = read_glb(export_glb(Mesh(np.eye(3), [[0, 1, 2]])))
    >>> arrays[gltf["meshes"][0]["primitives"][0]["indices"]].ravel().tolist()
    [0, 1, 2]
    """
    length, kind = struct.unpack_from("<II", data, 12)
    if data[:4] != b"glTF" or kind != CHUNK_JSON:
        raise ValueError("not a binary glTF file")
    gltf = json.loads(data[20:20 + length])
    binary = data[20 + length + 8:]
    widths = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
    arrays = {}
    for index, accessor in enumerate(gltf.get("accessors", [])):
        view = gltf["bufferViews"][accessor["bufferView"]]
        dtype = "<u4" if accessor["componentType"] == _UNSIGNED_INT else "<f4"
        width = widths[accessor["type"]]
        arrays[index] = np.frombuffer(binary, dtype, accessor["count"] * width, view["byteOffset"]).reshape(-1, width)
    return gltf, arrays


def srgb_to_linear(colors: np.ndarray) -> np.ndarray:
    """sRGB uint8 colours to linear floats in [0, 1] (IEC 61966-2-1 transfer function).

    Parameters
    ----------
    colors : np.ndarray, shape (N, 3), uint8

    Returns
    -------
    np.ndarray, shape (N, 3), float64

    Examples
    --------
    >>> srgb_to_linear(np.array([[0, 128, 255]], np.uint8)).round(4)
    array([[0.    , 0.2159, 1.    ]])
    """
    c = np.asarray(colors, np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _chunk(kind: int, payload: bytes, pad: bytes) -> bytes:
    """A GLB chunk: length, type, payload padded to a multiple of 4 bytes with ``pad``."""
    payload += pad * (-len(payload) % 4)
    return struct.pack("<II", len(payload), kind) + payload
