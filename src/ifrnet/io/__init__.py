"""File formats at the edges of the library: images, safe output paths."""

from .files import atomic_output, check_output_path
from .images import overlay, read_image, write_gif, write_png

__all__ = ["atomic_output", "check_output_path", "overlay", "read_image", "write_gif", "write_png"]
