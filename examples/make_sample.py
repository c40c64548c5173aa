"""Rebuild the shipped sample (examples/talk.mp4, examples/face.jpg) from ../shared/data.

    python examples/make_sample.py [DATA_DIR]     # DATA_DIR defaults to ../shared/data

talk.mp4: the first 3.6 s of videos/retalking/4.mp4 (Apache-2.0), scaled 700 -> 384 px, H.264 + mono AAC.
face.jpg: portraits/dreamtalk/face3.png (MIT), scaled to 512 px high, JPEG quality 90.
"""

import sys
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

SECONDS, SIZE, FPS = 3.6, 384, 30
data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
here = Path(__file__).resolve().parent

with av.open(str(data / "videos/retalking/4.mp4")) as src, av.open(str(here / "talk.mp4"), "w") as dst:
    video = dst.add_stream("libx264", rate=FPS, options={"crf": "23", "preset": "slow"})
    video.width = video.height = SIZE
    video.pix_fmt = "yuv420p"
    audio = dst.add_stream("aac", rate=44100, layout="mono")
    audio.bit_rate = 48000
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=44100)
    for n, frame in enumerate(src.decode(video=0)):
        if n >= round(SECONDS * FPS):
            break
        out = av.VideoFrame.from_image(frame.to_image().resize((SIZE, SIZE), Image.LANCZOS))
        out.pts, out.time_base = n, Fraction(1, FPS)
        dst.mux(video.encode(out))
    dst.mux(video.encode())
    src.seek(0)
    samples = 0
    for frame in src.decode(audio=0):
        for part in resampler.resample(frame):
            if samples >= SECONDS * 44100:
                break
            part.pts, samples = samples, samples + part.samples
            dst.mux(audio.encode(part))
    dst.mux(audio.encode())

face = Image.open(data / "portraits/dreamtalk/face3.png").convert("RGB")
face = face.resize((round(face.width * 512 / face.height), 512), Image.LANCZOS)
face.save(here / "face.jpg", quality=90)
