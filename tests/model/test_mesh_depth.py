"""Ray depth of a triangle mesh: known planes, holes, the nearest of two layers, the face mesh's rims."""

import numpy as np
import torch

from model.camera import Camera, frontal_cam_to_world
from model.mesh_depth import boundary_loops, mesh_depth, rim_weights
from model.photo_warp import project


def _square_with_hole(depth: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A 4×4-vertex square at head-frame z = ``depth`` − 5.2 (seen by the frontal camera at ``depth``), its
    middle cell left open."""
    xs = np.linspace(-0.6, 0.6, 4)
    vertices = np.array([(x, y, depth - 5.2) for y in xs for x in xs], np.float32)
    triangles = []
    for row in range(3):
        for col in range(3):
            if (row, col) == (1, 1):
                continue  # the hole
            v = row * 4 + col
            triangles += [(v, v + 1, v + 5), (v, v + 5, v + 4)]
    return torch.as_tensor(vertices), torch.as_tensor(np.array(triangles, np.int64))


def test_a_plane_seen_straight_on_has_its_distance_and_its_hole() -> None:
    camera = Camera.from_numpy(frontal_cam_to_world()[None])
    vertices, triangles = _square_with_hole(5.0)
    weights = torch.ones(len(vertices))
    points = torch.tensor([[[0.5, 0.5], [0.63, 0.45], [0.02, 0.02]]])
    depth, weight = mesh_depth(camera, vertices[None], triangles, weights, points)
    # The centre is in the hole; a point on the square lies at the plane's distance along its ray; a point
    # beside the square meets nothing.
    assert weight[0, 0] == 0 and depth[0, 0] == 0
    u, v = points[0, 1]
    x, y = (u - 0.5) / 2.0 * 5.0, (v - 0.5) / 2.0 * 5.0
    assert torch.isclose(depth[0, 1], torch.sqrt(x**2 + y**2 + 25.0), atol=1e-4)
    assert torch.isclose(weight[0, 1], torch.tensor(1.0))
    assert weight[0, 2] == 0


def test_the_nearest_layer_wins_and_weights_interpolate_perspective_correctly() -> None:
    camera = Camera.from_numpy(frontal_cam_to_world()[None])
    near, triangles = _square_with_hole(4.0)
    far, _ = _square_with_hole(6.0)
    vertices = torch.cat([far, near])[None]
    both = torch.cat([triangles, triangles + len(far)])
    weights = torch.cat([torch.zeros(len(far)), torch.ones(len(near))])
    point = torch.tensor([[[0.65, 0.65]]])  # on both squares (x = y = 0.3 near, 0.45 far)
    depth, weight = mesh_depth(camera, vertices, both, weights, point)
    assert torch.isclose(weight[0, 0], torch.tensor(1.0))
    assert torch.isclose(depth[0, 0], torch.tensor(float(np.sqrt(0.3**2 + 0.3**2 + 16.0))), atol=1e-4)
    # A tilted triangle: its vertices' own projections come back at their own distances.
    tilted = torch.tensor([[[-0.3, -0.3, -1.2], [0.4, -0.2, 0.2], [-0.1, 0.5, -0.4]]])
    seen, distance = project(tilted, camera)
    tri = torch.tensor([[0, 1, 2]])
    corner = torch.tensor([0.0, 1.0, 0.0])
    inward = seen * 0.9999 + seen.mean(1, keepdim=True) * 0.0001
    depth, weight = mesh_depth(camera, tilted, tri, corner, inward)
    assert torch.allclose(depth, distance, atol=1e-3)
    # The centroid of the projected triangle is not the 3D centroid: its weight is the perspective-correct
    # one (the nearer corner 0 covers more of the screen), not 1/3.
    middle = seen.mean(1, keepdim=True)
    _, weight = mesh_depth(camera, tilted, tri, corner, middle)
    z = tilted[0, :, 2] + 5.2  # camera-space depth under the frontal camera
    expected = (1 / z[1]) / (1 / z).sum()
    assert torch.isclose(weight[0, 0], expected, atol=1e-4)


def test_the_face_meshs_outer_rim_is_its_outline_not_its_mouth_or_eyes() -> None:
    from tracking.landmark_model import LandmarkModel, mesh_triangles

    triangles = mesh_triangles()
    loops = boundary_loops(triangles)
    assert [len(loop) for loop in loops] == [36, 20, 16, 16]  # outline, inner lips, the two eyes
    weights = rim_weights(triangles, LandmarkModel.default().mean.shape[0])
    assert weights[10] == 0 and weights[152] == 0  # forehead and chin on the outline
    assert weights[13] == 1 and weights[14] == 1 and weights[159] == 1  # lips and lids are not the rim


def test_caps_close_only_the_holes_asked_for() -> None:
    """The square's hole, and the face mesh's eyes: a capped hole is met at its rim's depth; the others stay
    open."""
    from model.mesh_depth import hole_caps, ordered_loop
    from tracking.landmark_model import LandmarkModel, mesh_triangles

    camera = Camera.from_numpy(frontal_cam_to_world()[None])
    vertices, triangles = _square_with_hole(5.0)
    caps = hole_caps(triangles.numpy(), [5])  # vertex 5 is on the hole's rim
    assert caps.shape == (2, 3)
    closed = torch.cat([triangles, torch.as_tensor(caps)])
    depth, weight = mesh_depth(
        camera, vertices[None], closed, torch.ones(len(vertices)), torch.tensor([[[0.5, 0.5]]])
    )
    assert weight[0, 0] == 1 and torch.isclose(depth[0, 0], torch.tensor(5.0), atol=1e-4)
    # The face mesh: an eye's rim in order (each step along a boundary edge); its caps close the eyes only.
    face_triangles = mesh_triangles()
    loops = boundary_loops(face_triangles)
    rim = ordered_loop(face_triangles, loops[2])
    assert sorted(rim.tolist()) == sorted(loops[2].tolist())
    edges = {
        tuple(sorted(e)) for t in face_triangles.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))
    }
    assert all(tuple(sorted((a, b))) in edges for a, b in zip(rim, np.roll(rim, -1)))
    eyes = hole_caps(face_triangles, [159, 386])
    covered = set(eyes.ravel().tolist())
    assert 159 in covered and 386 in covered and 13 not in covered and len(eyes) == 2 * (16 - 2)
    face = torch.as_tensor(LandmarkModel.default().mean)[None]
    camera = Camera.from_numpy(frontal_cam_to_world()[None])
    centres = project(face[:, [159, 145, 13, 14]], camera)[0]
    eye = (centres[:, 0] + centres[:, 1]) / 2
    mouth = (centres[:, 2] + centres[:, 3]) / 2
    points = torch.stack([eye, mouth], dim=1)
    closed = torch.cat([torch.as_tensor(face_triangles), torch.as_tensor(eyes)])
    _, hit = mesh_depth(camera, face, closed, torch.ones(face.shape[1]), points)
    assert hit[0, 0] > 0 and hit[0, 1] == 0  # the eye is closed for depth, the mouth still open
