import math

import numpy as np
import pytest
import torch

from model.camera import Camera, frontal_cam_to_world, orbit_cam_to_world
from model.config import preset
from model.data import FrameDataset
from model.errors import DataError
from model.geometry import geometry_loss, landmark_rays, vertex_normals, visible_landmarks
from model.head_model import HeadModel
from tracking.landmark_model import LandmarkModel, mesh_triangles

from .conftest import write_cache

NOSE_TIP, RIGHT_SIDE, LEFT_SIDE = 1, 234, 454
"""MediaPipe face-mesh indices: the nose tip and the two outermost points of the face at the ears."""


@pytest.fixture(scope="module")
def mesh():
    return LandmarkModel.default().face_mesh()


def cameras(*yaw_degrees: float) -> Camera:
    return Camera(
        torch.from_numpy(
            np.stack([orbit_cam_to_world(math.radians(y)) for y in yaw_degrees]).astype(np.float32)
        )
    )


def test_mesh_triangles_cover_the_face():
    triangles = mesh_triangles()
    assert triangles.shape[1] == 3 and len(triangles) > 800  # MediaPipe's canonical mesh has 898 faces
    assert set(np.unique(triangles)) == set(range(468))
    edges = {}
    for a, b, c in triangles:
        for edge in ((a, b), (a, c), (b, c)):
            edges[edge] = edges.get(edge, 0) + 1
    # A surface: almost every edge is shared by two faces (the border and a few spurious cliques aside).
    assert np.mean([count == 2 for count in edges.values()]) > 0.9


def test_landmark_rays_pass_through_the_landmarks(mesh):
    points = torch.from_numpy(mesh.mean)[None].expand(2, -1, -1).contiguous()
    camera = cameras(0.0, 25.0)
    rays, target = landmark_rays(points, camera)
    assert torch.allclose(rays.origins + target * rays.directions, points, atol=1e-5)
    assert torch.allclose(rays.directions.norm(dim=-1), torch.ones(2, 468))
    assert bool(((rays.near <= target) & (target <= rays.far)).all())  # the face is inside the head sphere


def test_normals_point_out_of_the_face_and_visibility_follows_the_camera(mesh):
    points = torch.from_numpy(mesh.mean)[None].expand(3, -1, -1).contiguous()
    normals = vertex_normals(points, torch.from_numpy(mesh.triangles))
    assert normals[0, NOSE_TIP, 2] < -0.8  # toward the frontal camera (−z)
    visible = visible_landmarks(points, cameras(0.0, 60.0, 180.0), mesh.triangles)
    assert visible[0, NOSE_TIP] and visible[0].float().mean() > 0.7
    assert not visible[0, RIGHT_SIDE] and not visible[0, LEFT_SIDE]  # seen edge-on from the front
    # Turned 60° about the vertical axis: one side of the face comes into view, the other goes out of it.
    assert bool(visible[1, RIGHT_SIDE]) != bool(visible[1, LEFT_SIDE])
    assert not visible[2].any()  # from behind the head


def test_ray_depth_is_the_weighted_mean_distance():
    torch.manual_seed(0)
    model = HeadModel(preset("tiny"))
    camera = Camera(torch.from_numpy(frontal_cam_to_world()[None].astype(np.float32)))
    points = torch.tensor([[[0.0, 0.0, -0.8], [0.3, 0.2, -0.6]]])
    rays, _ = landmark_rays(points, camera)
    codes = torch.zeros(1, 46), torch.zeros(1, 128)
    with torch.no_grad():
        depth, opacity = model.ray_depth(rays, *codes)
        _, opacity_features = model.render_rays(rays, *codes)
    assert depth.shape == (1, 2, 1) and torch.allclose(opacity, opacity_features)
    assert bool(((rays.near - 1e-4 <= depth) & (depth <= rays.far + 1e-4)).all())


def test_geometry_loss_moves_the_surface_to_the_landmarks(mesh):
    torch.manual_seed(0)
    model = HeadModel(preset("tiny"))
    points = torch.from_numpy(mesh.mean)[None].expand(2, -1, -1).contiguous()
    camera = cameras(0.0, 15.0)
    codes = torch.zeros(2, 46), torch.zeros(2, 128)
    picks = torch.arange(0, 468, 4).expand(2, -1)
    optimizer = torch.optim.Adam(model.field.parameters(), lr=1e-3)
    history = []
    for _ in range(60):
        loss = geometry_loss(model, points, camera, *codes, mesh.triangles, picks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
    assert history[-1] < 0.5 * history[0], history[::10]


def test_frame_dataset_places_landmarks_of_the_tracked_codes(tmp_path, clip_frames, mesh):
    cache = write_cache(tmp_path / "cache", clip_frames[:3])
    data = FrameDataset(cache, 32, face_mesh=mesh)
    assert data.landmarks.shape == (3, 468, 3)
    assert np.allclose(data.landmarks[0].numpy(), mesh.mean, atol=1e-6)  # zero codes: the mean face
    assert data.batch(torch.tensor([1, 2]), "cpu").landmarks.shape == (2, 468, 3)
    assert FrameDataset(cache, 32).landmarks is None
    bare = write_cache(tmp_path / "bare", clip_frames[:2], identity_shape=False)
    with pytest.raises(DataError, match="identity_shape"):
        FrameDataset(bare, 32, face_mesh=mesh)
