"""MediaPipe face mesh (0.10.21 legacy ``mp.solutions``) as a small detector object.

Input: RGB uint8 images (H, W, 3). Output: for each face, 478 landmarks (468 mesh points + 10 iris
points, ``refine_landmarks=True``) as a float32 array (478, 3): x, y in *source pixels* (continuous
coordinates: the centre of pixel column j is at x = j + 0.5) and MediaPipe's relative depth z, scaled
like x (pixels; smaller = closer to the camera).

Video mode (``static_image_mode=False``) runs the face detector only when no face is being tracked and
otherwise follows the face from the previous frame's landmarks (fast); when the track is lost, the graph
re-detects by itself. Static mode detects afresh in every image (single photos).

Several faces: ``max_num_faces > 1`` is used only to *choose* a face; :func:`select_face` and
:class:`FaceFollower` pick one face (the largest, or the k-th from the left) and then follow it by
box IoU with the previous frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_LANDMARKS = 478
"""MediaPipe face mesh with iris refinement."""
NUM_MESH_LANDMARKS = 468
"""The mesh proper (the landmark model is defined on these)."""
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""Outer eye corners: the subject's right eye (image left) and left eye (image right)."""
RIGHT_EYE_INNER, LEFT_EYE_INNER = 133, 362
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
INNER_LIP_CORNERS = (78, 308)
"""The inner lip contour's corners (MediaPipe's lip connections)."""
UPPER_INNER_LIP = (191, 80, 81, 82, 13, 312, 311, 310, 415)
"""The upper lip's inner edge between the corners, from corner 78 to corner 308."""
LOWER_INNER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)
"""The lower lip's inner edge, each point facing the upper lip's point at the same position."""
UPPER_LIDS = (161, 160, 159, 158, 157, 388, 387, 386, 385, 384)
"""The upper eyelids' edges (both eyes), each point facing the lower lid's point at the same position."""
LOWER_LIDS = (163, 144, 145, 153, 154, 390, 373, 374, 380, 381)
"""The lower eyelids' edges, paired with ``UPPER_LIDS``."""


def inter_ocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the two iris centres (pupils), (..., 478, ≥2) → (...,). Same units as input."""
    return np.linalg.norm(
        landmarks[..., RIGHT_IRIS_CENTER, :2] - landmarks[..., LEFT_IRIS_CENTER, :2], axis=-1
    )


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """Axis-aligned box x0, y0, x1, y1 of the mesh landmarks (478, ≥2) → (4,)."""
    pts = landmarks[:NUM_MESH_LANDMARKS, :2]
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)]).astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes x0, y0, x1, y1."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Accept (H, W) greyscale, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA; return contiguous RGB uint8.

    Float images are taken as [0, 1]. Raises ``ValueError`` for anything else (callers turn it into
    :class:`tracking.errors.TrackingInputError`).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got shape {image.shape}"
        )
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


class FaceMeshDetector:
    """Context manager around ``mp.solutions.face_mesh.FaceMesh`` returning landmark arrays.

    ``static_image_mode``: True for unrelated single images, False for the frames of one video (in
    order). ``max_num_faces``: how many faces the graph may return (1 unless a face must be chosen among
    several). Not thread-safe; one detector per stream.
    """

    def __init__(
        self,
        static_image_mode: bool = False,
        max_num_faces: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        self.static_image_mode = static_image_mode
        self.max_num_faces = max_num_faces
        self._settings = dict(
            static_image_mode=static_image_mode,
            max_num_faces=max_num_faces,
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self._mesh = None

    def __enter__(self) -> FaceMeshDetector:
        import mediapipe as mp  # heavy import, kept local

        self._mesh = mp.solutions.face_mesh.FaceMesh(**self._settings)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def detect(self, image_rgb: np.ndarray) -> list[np.ndarray]:
        """All faces in one RGB uint8 image: a list of (478, 3) float32 arrays in source pixels."""
        if self._mesh is None:
            raise RuntimeError("FaceMeshDetector used outside its context")
        height, width = image_rgb.shape[:2]
        result = self._mesh.process(image_rgb)
        faces = []
        for face in result.multi_face_landmarks or ():
            pts = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
            if pts.shape[0] != NUM_LANDMARKS:
                continue
            pts[:, 0] *= width
            pts[:, 1] *= height
            pts[:, 2] *= width
            faces.append(pts)
        return faces


def select_face(faces: list[np.ndarray], selection: str | int = "largest") -> int | None:
    """Index into ``faces`` of the face to follow: ``"largest"`` (biggest landmark box) or an int k =
    the k-th face counted from the image's left edge (0-based). None if there is no such face."""
    if not faces:
        return None
    boxes = [landmark_box(f) for f in faces]
    if selection == "largest":
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
        return int(np.argmax(areas))
    order = np.argsort([0.5 * (b[0] + b[2]) for b in boxes])
    k = int(selection)
    return int(order[k]) if 0 <= k < len(order) else None


@dataclass
class FaceFollower:
    """Keeps following one face across frames by IoU with its last box.

    The first face is chosen with :func:`select_face`; afterwards the face overlapping the last box most
    (IoU ≥ ``min_iou``) is taken. After ``reacquire_after`` frames without a match, the choice is made
    afresh (the person may have moved far during a cut or an occlusion).
    """

    selection: str | int = "largest"
    min_iou: float = 0.2
    reacquire_after: int = 10
    _last_box: np.ndarray | None = None
    _missed: int = 0

    def choose(self, faces: list[np.ndarray]) -> np.ndarray | None:
        if self._last_box is None or self._missed >= self.reacquire_after:
            k = select_face(faces, self.selection)
        else:
            ious = [box_iou(landmark_box(f), self._last_box) for f in faces]
            k = int(np.argmax(ious)) if ious and max(ious) >= self.min_iou else None
        if k is None:
            self._missed += 1
            return None
        self._missed = 0
        self._last_box = landmark_box(faces[k])
        return faces[k]
