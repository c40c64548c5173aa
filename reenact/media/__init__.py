"""All video and image I/O of reenact, on PyAV and Pillow (no ffmpeg binary is ever needed), one module per
job: ``images`` (still photos), ``reading`` (videos and folders of frames), ``writing`` (browser-playable
H.264 mp4) and ``audio`` (another file's sound carried into a written video); ``files`` holds what they
share."""
