"""Preview drawing: MediaPipe landmarks, the fitted landmark model and the head-pose axes on a frame.

``draw_preview(image, frame_track, landmark_model, identity)`` returns a copy of the source frame
(H, W, 3) uint8 RGB with: MediaPipe landmarks (green dots), the fitted model's projected landmarks (red
dots), the crop box (yellow) and the head frame's axes at the head centre (x red, y green, z blue; 0.5
head units long). The caller writes the video (``reenact/media/writing.py``).
"""

from __future__ import annotations

import cv2
import numpy as np

from model.camera import Intrinsics, project
from tracking.crop import from_crop
from tracking.landmark_model import LandmarkModel
from tracking.types import FrameTrack


def draw_preview(
    image: np.ndarray,
    frame_track: FrameTrack,
    landmark_model: LandmarkModel,
    identity: np.ndarray | None = None,
) -> np.ndarray:
    """Annotated copy of ``image`` (see module docstring). Invalid frames get a red "no face" label."""
    out = np.ascontiguousarray(image.copy())
    height = out.shape[0]
    radius = max(1, int(round(height / 400)))
    box = np.asarray(frame_track.crop, np.float64)
    if not frame_track.valid:
        cv2.putText(out, "no face", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 0, 0), 2)
        return out
    for x, y in np.asarray(frame_track.landmarks)[:, :2]:
        cv2.circle(out, (int(x), int(y)), radius, (0, 255, 0), -1)
    points = landmark_model.shape(identity, frame_track.expression)
    pose = np.asarray(frame_track.pose, np.float64)
    fitted = from_crop(project(points, pose, Intrinsics()), box)
    for x, y in fitted:
        cv2.circle(out, (int(x), int(y)), radius, (255, 0, 0), -1)
    cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (255, 255, 0), max(1, radius))
    axes = np.array([[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]], np.float64)
    ends = from_crop(project(axes, pose, Intrinsics()), box)
    origin = tuple(int(v) for v in ends[0])
    for end, colour in zip(ends[1:], [(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        cv2.arrowedLine(out, origin, tuple(int(v) for v in end), colour, max(2, radius + 1), tipLength=0.15)
    return out
